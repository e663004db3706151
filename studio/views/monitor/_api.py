"""`ApiSource`: the monitor's `MonitorSource` over `shared.client.ApiClient`, in one place so the
monitor moves to the typed client's methods by changing this module only.

Every call blocks on HTTP; the views run them in worker threads. The calls share one client,
whose refresh token rotates on use: two threads refreshing at once would present the same token
twice (and the second refresh fails), so the calls go through one lock. The journal stream is
long-lived and does not hold it: it makes a short locked call first, which refreshes an expired
access token, then streams.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from shared.client import API, ApiClient, ApiError
from studio.views.monitor.model import JSON

_LIST_PAGE = 500


class ApiSource:
    """The orchestrator calls of the monitor, made with `client` (already signed in)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._lock = threading.Lock()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._lock:
            return self.client.request(method, path, **kwargs)

    @property
    def url(self) -> str:
        """The orchestrator's address."""
        return self.client.url

    def list_executions(self, params: Mapping[str, Any]) -> JSON:
        """`GET /executions` with `params`."""
        page: JSON = self._request("GET", "/executions", params=dict(params))
        return page

    def get_execution(self, execution_id: str) -> JSON:
        """`GET /executions/{id}`."""
        execution: JSON = self._request("GET", f"/executions/{execution_id}")
        return execution

    def stream_execution(self, execution_id: str, *, follow: bool, after_seq: int = 0) -> Iterator[tuple[str, Any]]:
        """`GET /executions/{id}/stream` (Server-Sent Events)."""
        self._request("GET", "/auth/me")  # refreshes an expired access token, under the lock
        return self.client.stream(execution_id, follow=follow, after_seq=after_seq)

    def _all(self, path: str) -> list[JSON]:
        items: list[JSON] = []
        while True:
            page = self._request("GET", path, params={"limit": _LIST_PAGE, "offset": len(items)})
            items += page.get("items") or []
            if not page.get("items") or len(items) >= int(page.get("total") or 0):
                return items

    def list_transitions(self, execution_id: str) -> list[JSON]:
        """`GET /executions/{id}/transitions`, every page."""
        return self._all(f"/executions/{execution_id}/transitions")

    def list_artifacts(self, execution_id: str) -> list[JSON]:
        """`GET /executions/{id}/artifacts`, every page."""
        return self._all(f"/executions/{execution_id}/artifacts")

    def download_artifact(self, execution_id: str, artifact_id: str) -> bytes:
        """The artifact's bytes (`ApiClient.request` answers JSON only, so this call is made here)."""
        import httpx

        path = f"{self.client.url}{API}/executions/{execution_id}/artifacts/{artifact_id}"
        for attempt in range(2):
            if not self.client.access_token or attempt:
                self._request("GET", "/auth/me")  # refreshes an expired access token
            try:
                response = httpx.get(
                    path,
                    headers={"Authorization": f"Bearer {self.client.access_token}"},
                    timeout=self.client.timeout,
                    follow_redirects=True,
                )
            except httpx.HTTPError as exc:
                raise ApiError(0, "unreachable", f"cannot download the artifact ({type(exc).__name__})") from None
            if response.status_code != 401:
                break
        if response.status_code >= 400:
            raise ApiError(response.status_code, "http_error", f"the artifact download failed: {response.status_code}")
        return bytes(response.content)

    def get_version(self, workflow_id: str, number: int) -> JSON:
        """`GET /workflows/{id}/versions/{n}`."""
        version: JSON = self._request("GET", f"/workflows/{workflow_id}/versions/{number}")
        return version

    def cancel_execution(self, execution_id: str, reason: str = "") -> JSON:
        """`POST /executions/{id}/cancel`."""
        execution: JSON = self._request("POST", f"/executions/{execution_id}/cancel", json={"reason": reason})
        return execution

    def retry_execution(self, execution_id: str, *, resume: bool = False) -> JSON:
        """`POST /executions/{id}/retry`."""
        execution: JSON = self._request("POST", f"/executions/{execution_id}/retry", json={"resume": resume})
        return execution

    def list_workflows(self) -> list[JSON]:
        """`GET /workflows`, every page."""
        return self._all("/workflows")

    def list_agents(self) -> list[JSON]:
        """`GET /agents`, every page."""
        return self._all("/agents")
