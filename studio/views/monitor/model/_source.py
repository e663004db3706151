"""What the monitor asks of an orchestrator: a small protocol, named like the API client's calls.

The monitor's views take any object with these methods. `ApiSource` (`_api.py`) implements them
over `shared.client.ApiClient.request`; the benchmark feeds the views from an in-memory stand-in.
Every method blocks (HTTP): the views call them off the UI thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

JSON = dict[str, Any]


class MonitorSource(Protocol):
    """The orchestrator calls the executions monitor makes (each blocks; run them off the UI thread)."""

    def list_executions(self, params: Mapping[str, Any]) -> JSON:
        """`GET /executions` with query `params`: `{items, total, next_cursor, ...}`, newest first."""
        ...

    def get_execution(self, execution_id: str) -> JSON:
        """`GET /executions/{id}`: one execution (with `waiting_reason`)."""
        ...

    def stream_execution(self, execution_id: str, *, follow: bool, after_seq: int = 0) -> Iterator[tuple[str, Any]]:
        """`GET /executions/{id}/stream`: `("journal", event)` pairs, then `("end", {state, last_seq})`."""
        ...

    def list_transitions(self, execution_id: str) -> list[JSON]:
        """`GET /executions/{id}/transitions`: the state changes, oldest first."""
        ...

    def list_artifacts(self, execution_id: str) -> list[JSON]:
        """`GET /executions/{id}/artifacts`: `{id, name, size, content_type, ...}` of each file."""
        ...

    def download_artifact(self, execution_id: str, artifact_id: str) -> bytes:
        """`GET /executions/{id}/artifacts/{artifact_id}`: the file's bytes."""
        ...

    def get_version(self, workflow_id: str, number: int) -> JSON:
        """`GET /workflows/{id}/versions/{n}`: the version, its flow under `document`."""
        ...

    def cancel_execution(self, execution_id: str, reason: str = "") -> JSON:
        """`POST /executions/{id}/cancel`: the execution as it is now."""
        ...

    def retry_execution(self, execution_id: str, *, resume: bool = False) -> JSON:
        """`POST /executions/{id}/retry`: the new execution."""
        ...

    def list_workflows(self) -> list[JSON]:
        """`GET /workflows`: `{id, name, ...}` of the organisation's workflows (for the filter)."""
        ...

    def list_agents(self) -> list[JSON]:
        """`GET /agents`: `{id, name, status, ...}` of the organisation's agents (for the filter)."""
        ...
