"""Fold a journal into the state an execution resumes from.

Resume never re-derives a decision that was already taken: the port a router chose, the items
a loop iterates over, whether a `while` started iteration N, the results of finished
iterations and the variables as they were last set are all read from the journal. A node
instance with a terminal event (succeeded, skipped, failed for good) is replayed, never run
again; one that started without such an event runs again with the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.engine import _events as ev
from shared.engine._restart import RESTART_POINT, forget_rerun

NodeStatus = Literal["succeeded", "skipped", "failed"]


@dataclass(slots=True)
class NodeResult:
    """How a node instance ended."""

    status: NodeStatus
    output: Any = None
    port: str | None = "out"
    error: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        """What `steps.<id>` shows in expressions."""
        return {"output": self.output, "status": self.status, "error": self.error, "port": self.port}


@dataclass
class ExecutionState:
    """Everything resume needs, folded from events."""

    execution_id: str = ""
    started: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    results: dict[str, NodeResult] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    loop_items: dict[str, list[Any]] = field(default_factory=dict)
    iterations_started: dict[str, set[int]] = field(default_factory=dict)
    iteration_results: dict[str, dict[int, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    restart_points: dict[str, str] = field(default_factory=dict)
    """Scope (e.g. `browser:main`) → the path of the node noted as its restart point."""
    last_seq: int = 0

    @property
    def is_new(self) -> bool:
        """True when nothing was journaled yet."""
        return self.started is None


def fold(events: Iterable[ev.Event], load_artifact: Callable[[Any], Any] | None = None) -> ExecutionState:  # noqa: C901
    """Fold journal events into an `ExecutionState`.

    Args:
        events: the journal, in sequence order.
        load_artifact: turns an `{"$artifact": ...}` reference back into the output it stands
            for; without it references stay as they are.
    """
    state = ExecutionState()

    def value(raw: Any) -> Any:
        if load_artifact is not None and isinstance(raw, dict) and ev.ARTIFACT_REF in raw:
            return load_artifact(raw)
        return raw

    for event in events:
        kind, path, data = event.type, event.path, event.data
        state.last_seq = event.seq
        if kind == ev.NODE_STARTED:
            state.attempts[path] = int(data.get("attempt", state.attempts.get(path, 0) + 1))
            if "items" in data:
                state.loop_items[path] = value(data["items"])
        elif kind == ev.NODE_SUCCEEDED:
            state.results[path] = NodeResult("succeeded", value(data.get("output")), data.get("port", "out"))
        elif kind == ev.NODE_FAILED:
            state.failures[path] = state.failures.get(path, 0) + 1
            handled = data.get("handled")
            if handled:
                state.results[path] = NodeResult(
                    "failed", value(data.get("output")), data.get("port"), data.get("error")
                )
            elif not data.get("will_retry"):
                state.results[path] = NodeResult("failed", None, None, data.get("error"))
        elif kind == ev.NODE_SKIPPED:
            state.results[path] = NodeResult("skipped", None, data.get("port"), data.get("error"))
        elif kind == ev.ITERATION_STARTED:
            state.iterations_started.setdefault(path, set()).add(int(data["index"]))
        elif kind == ev.ITERATION_FINISHED:
            state.iteration_results.setdefault(path, {})[int(data["index"])] = value(data.get("result"))
        elif kind == ev.VARIABLE_SET:
            state.variables.setdefault(str(data.get("scope", "")), {})[str(data["name"])] = value(data.get("value"))
        elif kind == ev.EXECUTION_STARTED:
            state.started = data
            state.execution_id = str(data.get("execution_id", ""))
            state.variables.setdefault("", {}).update(data.get("variables") or {})
        elif kind == ev.EXECUTION_FINISHED:
            state.finished = data
        elif kind in (ev.NODE_NOTE, ev.NODE_RESTARTED):
            _fold_restart(state, kind, path, data)
    return state


def _fold_restart(state: ExecutionState, kind: str, path: str, data: dict[str, Any]) -> None:
    if kind == ev.NODE_RESTARTED:
        forget_rerun([state.results, state.failures], data.get("rerun") or [])
    elif data.get("kind") == RESTART_POINT and isinstance(data.get("scope"), str):
        state.restart_points[data["scope"]] = path
