"""What the dashboard, reports and admin views ask of the orchestrator, and the one adapter that
asks it through `shared.client.ApiClient.request`.

The views depend on the `OrchestratorApi` protocol only; its methods are named like the typed
client's, so switching to that client replaces this module and nothing else. Every method
blocks (HTTP): views call them with `asyncio.to_thread`, never on the Qt thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from shared.client import ApiClient

PAGE = 200
"""Items asked per page of a list."""
MAX_PAGE = 500
"""The most items the API gives in one page."""
MAX_EXECUTIONS = 10_000
"""The most executions a report lists."""


class OrchestratorApi(Protocol):
    """The orchestrator calls of the dashboard, reports and admin views (JSON in, JSON out)."""

    def me(self) -> dict[str, Any]: ...

    def dashboard(
        self, *, since: datetime | None = None, until: datetime | None = None, bucket: str | None = None
    ) -> dict[str, Any]: ...

    def list_executions(self, *, limit: int = MAX_EXECUTIONS, **filters: Any) -> list[dict[str, Any]]: ...

    def list_credentials(self) -> list[dict[str, Any]]: ...

    def create_credential(
        self, name: str, kind: str, value: dict[str, Any], *, description: str = ""
    ) -> dict[str, Any]: ...

    def rotate_credential(self, credential_id: str, value: dict[str, Any]) -> dict[str, Any]: ...

    def delete_credential(self, credential_id: str) -> None: ...

    def list_agents(self) -> list[dict[str, Any]]: ...

    def update_agent(
        self, agent_id: str, *, name: str | None = None, labels: list[str] | None = None
    ) -> dict[str, Any]: ...

    def list_enrolment_tokens(self) -> list[dict[str, Any]]: ...

    def create_enrolment_token(
        self, *, labels: list[str], expires_in_s: int = 3600, description: str = ""
    ) -> dict[str, Any]: ...

    def revoke_enrolment_token(self, token_id: str) -> None: ...


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class ClientApi:
    """`OrchestratorApi` over the typed API client (`client.executions`, `.credentials`, `.agents`,
    `.enrolment_tokens`, `client.dashboard`), handing the views the API's JSON shapes."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def me(self) -> dict[str, Any]:
        return self.client.me().model_dump(mode="json")

    def dashboard(
        self, *, since: datetime | None = None, until: datetime | None = None, bucket: str | None = None
    ) -> dict[str, Any]:
        return self.client.dashboard(since=since, until=until, bucket=bucket)

    def list_executions(self, *, limit: int = MAX_EXECUTIONS, **filters: Any) -> list[dict[str, Any]]:
        """Executions matching `filters` (`state`, `workflow_id`, `created_after`, …), newest first,
        page after page (keyset cursor) up to `limit`."""
        states = filters.get("state") or ()
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(items) < limit:
            page = self.client.executions.list(
                states=[states] if isinstance(states, str) else list(states),
                workflow_id=filters.get("workflow_id") or None,
                trigger=filters.get("trigger") or None,
                created_after=filters.get("created_after"),
                created_before=filters.get("created_before"),
                q=filters.get("q") or None,
                cursor=cursor,
                limit=min(MAX_PAGE, limit - len(items)),
            )
            items += [execution.model_dump(mode="json") for execution in page.items]
            cursor = page.next_cursor
            if not cursor or not page.items:
                break
        return items

    def list_credentials(self) -> list[dict[str, Any]]:
        return [c.model_dump(mode="json") for c in self.client.credentials.list(limit=PAGE).items]

    def create_credential(
        self, name: str, kind: str, value: dict[str, Any], *, description: str = ""
    ) -> dict[str, Any]:
        return self.client.credentials.create(name, kind, value, description=description).model_dump(mode="json")

    def rotate_credential(self, credential_id: str, value: dict[str, Any]) -> dict[str, Any]:
        return self.client.credentials.rotate(credential_id, value).model_dump(mode="json")

    def delete_credential(self, credential_id: str) -> None:
        self.client.credentials.delete(credential_id)

    def list_agents(self) -> list[dict[str, Any]]:
        return [a.model_dump(mode="json") for a in self.client.agents.list(limit=PAGE).items]

    def update_agent(
        self, agent_id: str, *, name: str | None = None, labels: list[str] | None = None
    ) -> dict[str, Any]:
        return self.client.agents.update(agent_id, name=name, labels=labels).model_dump(mode="json")

    def list_enrolment_tokens(self) -> list[dict[str, Any]]:
        return [t.model_dump(mode="json") for t in self.client.enrolment_tokens.list(limit=PAGE).items]

    def create_enrolment_token(
        self, *, labels: list[str], expires_in_s: int = 3600, description: str = ""
    ) -> dict[str, Any]:
        created = self.client.enrolment_tokens.create(labels=labels, expires_in_s=expires_in_s, description=description)
        return created.model_dump(mode="json")

    def revoke_enrolment_token(self, token_id: str) -> None:
        self.client.enrolment_tokens.revoke(token_id)
