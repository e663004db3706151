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
    """`OrchestratorApi` over an `ApiClient` (its session, token refresh and error mapping)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def _items(self, path: str, limit: int = PAGE, **params: Any) -> list[dict[str, Any]]:
        answer = self.client.request("GET", path, params={"limit": limit, **params})
        return list(answer["items"])

    def me(self) -> dict[str, Any]:
        return dict(self.client.request("GET", "/auth/me"))

    def dashboard(
        self, *, since: datetime | None = None, until: datetime | None = None, bucket: str | None = None
    ) -> dict[str, Any]:
        params = {k: v for k, v in {"since": _iso(since), "until": _iso(until), "bucket": bucket}.items() if v}
        return dict(self.client.request("GET", "/dashboard", params=params))

    def list_executions(self, *, limit: int = MAX_EXECUTIONS, **filters: Any) -> list[dict[str, Any]]:
        """Executions matching `filters` (`state`, `workflow_id`, `created_after`, …), newest first,
        page after page (keyset cursor) up to `limit`."""
        params = {k: _iso(v) if isinstance(v, datetime) else v for k, v in filters.items() if v not in (None, "")}
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(items) < limit:
            page = self.client.request(
                "GET",
                "/executions",
                params={**params, "limit": min(MAX_PAGE, limit - len(items)), **({"cursor": cursor} if cursor else {})},
            )
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or not page["items"]:
                break
        return items

    def list_credentials(self) -> list[dict[str, Any]]:
        return self._items("/credentials")

    def create_credential(
        self, name: str, kind: str, value: dict[str, Any], *, description: str = ""
    ) -> dict[str, Any]:
        body = {"name": name, "kind": kind, "value": value, "description": description}
        return dict(self.client.request("POST", "/credentials", json=body))

    def rotate_credential(self, credential_id: str, value: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.request("POST", f"/credentials/{credential_id}/rotate", json={"value": value}))

    def delete_credential(self, credential_id: str) -> None:
        self.client.request("DELETE", f"/credentials/{credential_id}")

    def list_agents(self) -> list[dict[str, Any]]:
        return self._items("/agents")

    def update_agent(
        self, agent_id: str, *, name: str | None = None, labels: list[str] | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"name": name, "labels": labels}.items() if v is not None}
        return dict(self.client.request("PATCH", f"/agents/{agent_id}", json=body))

    def list_enrolment_tokens(self) -> list[dict[str, Any]]:
        return self._items("/agents/enrolment-tokens")

    def create_enrolment_token(
        self, *, labels: list[str], expires_in_s: int = 3600, description: str = ""
    ) -> dict[str, Any]:
        body = {"labels": labels, "expires_in_s": expires_in_s, "description": description}
        return dict(self.client.request("POST", "/agents/enrolment-tokens", json=body))

    def revoke_enrolment_token(self, token_id: str) -> None:
        self.client.request("DELETE", f"/agents/enrolment-tokens/{token_id}")
