"""`client.agents`, `client.enrolment_tokens`, `client.credentials` and `client.ai`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from shared.client._base import Caller, Resource, drop_none, every, page_of
from shared.client._models import (
    Agent,
    Credential,
    Diagnosis,
    EnrolmentToken,
    EnrolmentTokenCreated,
    FlowProposal,
    Page,
)


class EnrolmentTokensApi(Resource):
    """One-time tokens that enrol agents (`/agents/enrolment-tokens`)."""

    def list(self, *, state: str | None = None, limit: int = 50, offset: int = 0) -> Page[EnrolmentToken]:
        """A page of tokens (without their values), optionally only those in `state`."""
        params = drop_none(state=state) | {"limit": limit, "offset": offset}
        return page_of(EnrolmentToken, self._client.request("GET", "/agents/enrolment-tokens", params=params))

    def create(
        self, *, labels: Sequence[str] = (), expires_in_s: int = 3600, description: str = ""
    ) -> EnrolmentTokenCreated:
        """A new token; its value (`.token`) is shown only in this answer."""
        body = {"labels": builtins.list(labels), "expires_in_s": expires_in_s, "description": description}
        return EnrolmentTokenCreated.model_validate(self._client.request("POST", "/agents/enrolment-tokens", json=body))

    def revoke(self, token_id: str) -> None:
        """Revoke an unused token (409 `conflict` once used: revoke its agent instead)."""
        self._client.request("DELETE", f"/agents/enrolment-tokens/{token_id}")


class AgentsApi(Resource):
    """The organisation's agents (`/agents`)."""

    def __init__(self, client: Caller) -> None:
        super().__init__(client)
        self.tokens = EnrolmentTokensApi(client)

    def list(
        self,
        *,
        status: str | None = None,
        label: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Agent]:
        """A page of agents, with their live status."""
        params = drop_none(status=status, label=label, q=q or None) | {"limit": limit, "offset": offset}
        return page_of(Agent, self._client.request("GET", "/agents", params=params))

    def get(self, agent_id: str) -> Agent:
        """One agent."""
        return Agent.model_validate(self._client.request("GET", f"/agents/{agent_id}"))

    def update(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        labels: Sequence[str] | None = None,
        max_jobs: int | None = None,
    ) -> Agent:
        """Rename an agent, replace its labels, or change how many jobs it runs at once."""
        body = drop_none(name=name, labels=builtins.list(labels) if labels is not None else None, max_jobs=max_jobs)
        return Agent.model_validate(self._client.request("PATCH", f"/agents/{agent_id}", json=body))

    def revoke(self, agent_id: str) -> Agent:
        """Revoke an agent: its key stops working and its connection is closed."""
        return Agent.model_validate(self._client.request("POST", f"/agents/{agent_id}/revoke"))


class CredentialsApi(Resource):
    """The organisation's vault (`/credentials`); values go in, never come back."""

    def list(
        self, *, kind: str | None = None, q: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Credential]:
        """A page of credentials (metadata only)."""
        params = drop_none(kind=kind, q=q or None) | {"limit": limit, "offset": offset}
        return page_of(Credential, self._client.request("GET", "/credentials", params=params))

    def names(self) -> builtins.list[str]:
        """The names of every credential, sorted (what a flow's `secret` params may name)."""
        fetch = lambda at: self.list(limit=500, offset=at)  # noqa: E731 - one page at a time
        return sorted(c.name for c in every(fetch))

    def get(self, credential_id: str) -> Credential:
        """One credential's metadata."""
        return Credential.model_validate(self._client.request("GET", f"/credentials/{credential_id}"))

    def create(
        self,
        name: str,
        kind: str,
        value: dict[str, Any],
        *,
        description: str = "",
        metadata: dict[str, str] | None = None,
    ) -> Credential:
        """Store a credential; `value` is e.g. `{"username": …, "password": …}` for `username_password`."""
        body = {"name": name, "kind": kind, "value": value, "description": description, "metadata": metadata or {}}
        return Credential.model_validate(self._client.request("POST", "/credentials", json=body))

    def rotate(self, credential_id: str, value: dict[str, Any]) -> Credential:
        """Replace a credential's value."""
        path = f"/credentials/{credential_id}/rotate"
        return Credential.model_validate(self._client.request("POST", path, json={"value": value}))

    def update(
        self, credential_id: str, *, description: str | None = None, metadata: dict[str, str] | None = None
    ) -> Credential:
        """Change a credential's description or labels."""
        body = drop_none(description=description, metadata=metadata)
        return Credential.model_validate(self._client.request("PATCH", f"/credentials/{credential_id}", json=body))

    def delete(self, credential_id: str) -> None:
        """Delete a credential (its value is wiped)."""
        self._client.request("DELETE", f"/credentials/{credential_id}")


class AiApi(Resource):
    """The orchestrator's AI features (`/ai/flows`, `/executions/{id}/diagnose`)."""

    def build_flow(self, description: str, *, flow: dict[str, Any] | None = None) -> FlowProposal:
        """A flow for `description` (or, with `flow`, that flow changed as described)."""
        body = drop_none(description=description, flow=flow)
        return FlowProposal.model_validate(self._client.request("POST", "/ai/flows", json=body))

    def diagnose(self, execution_id: str) -> Diagnosis:
        """Why a failed execution failed, with a fix (409 `not_failed` for one that did not fail)."""
        return Diagnosis.model_validate(self._client.request("POST", f"/executions/{execution_id}/diagnose"))
