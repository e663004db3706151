"""`ApiSource`: the monitor's `MonitorSource` over the typed API client (`client.executions`,
`client.workflows`, `client.agents`), handing the views the API's JSON shapes.

Every call blocks on HTTP; the views run them in worker threads. The client serialises its own
token refresh; the calls still go through one lock, so that a burst of refreshes from the views'
workers stays one request at a time. The journal stream is long-lived and does not hold it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.client import ApiClient, Page
from studio.views.monitor.model import JSON

_LIST_PAGE = 500
T = TypeVar("T")


def _json(model: BaseModel) -> JSON:
    dumped: JSON = model.model_dump(mode="json")
    return dumped


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


class ApiSource:
    """The orchestrator calls of the monitor, made with `client` (already signed in)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._lock = threading.Lock()

    def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return function(*args, **kwargs)

    @property
    def url(self) -> str:
        """The orchestrator's address."""
        return self.client.url

    def list_executions(self, params: Mapping[str, Any]) -> JSON:
        """A page of executions for the monitor's query (`model/_filters.py` builds it)."""
        states = params.get("state") or ()
        page = self._call(
            self.client.executions.list,
            states=[states] if isinstance(states, str) else list(states),
            workflow_id=params.get("workflow_id"),
            trigger=params.get("trigger"),
            created_after=_when(params.get("created_after")),
            created_before=_when(params.get("created_before")),
            q=params.get("q"),
            cursor=params.get("cursor"),
            limit=int(params.get("limit") or 50),
            offset=int(params.get("offset") or 0),
        )
        return _json(page)

    def get_execution(self, execution_id: str) -> JSON:
        """One execution, with its waiting reason."""
        return _json(self._call(self.client.executions.get, execution_id))

    def stream_execution(self, execution_id: str, *, follow: bool, after_seq: int = 0) -> Iterator[tuple[str, Any]]:
        """The journal as Server-Sent Events."""
        self._call(self.client.me)  # refreshes an expired access token, under the lock
        return self.client.executions.stream(execution_id, follow=follow, after_seq=after_seq)

    def _all(self, pages: Callable[..., Page[Any]], *args: Any) -> list[JSON]:
        items: list[JSON] = []
        while True:
            page = self._call(pages, *args, limit=_LIST_PAGE, offset=len(items))
            items += [_json(item) for item in page.items]
            if not page.items or len(items) >= page.total:
                return items

    def list_transitions(self, execution_id: str) -> list[JSON]:
        """The execution's state changes, every page."""
        return self._all(self.client.executions.transitions, execution_id)

    def list_artifacts(self, execution_id: str) -> list[JSON]:
        """The execution's artifacts, every page."""
        return self._all(self.client.executions.artifacts, execution_id)

    def download_artifact(self, execution_id: str, artifact_id: str) -> bytes:
        """The artifact's bytes."""
        return self._call(self.client.executions.artifact_bytes, execution_id, artifact_id)

    def get_version(self, workflow_id: str, number: int) -> JSON:
        """Published version `number` with its document."""
        return _json(self._call(self.client.workflows.version, workflow_id, number))

    def cancel_execution(self, execution_id: str, reason: str = "") -> JSON:
        """Cancel the execution."""
        return _json(self._call(self.client.executions.cancel, execution_id, reason=reason))

    def retry_execution(self, execution_id: str, *, resume: bool = False) -> JSON:
        """Start it again (`resume`: from its journal)."""
        return _json(self._call(self.client.executions.retry, execution_id, resume=resume))

    def list_workflows(self) -> list[JSON]:
        """Every workflow."""
        return self._all(self.client.workflows.list)

    def list_agents(self) -> list[JSON]:
        """Every agent."""
        return self._all(self.client.agents.list)
