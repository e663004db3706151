"""Debug hooks: what a debugger (the studio's, the tray's) sees and changes around each node.

An execution run with `Engine.run(..., hooks=...)` awaits `hooks.before_node(stop)` before a
node instance starts and `hooks.after_node(stop)` once it has settled (succeeded, failed, or
skipped on error). A hook pauses the execution simply by not returning yet; the execution is
stopped with `Engine.cancel`, which also ends a paused hook. Without hooks the runner pays one
`is None` test per node.

While paused a hook may read the node's rendered params (masked), the outputs and variables in
scope, evaluate an expression in the node's scope (a conditional breakpoint), and set a variable
(journaled as `variable.set`, so a resume sees the edited value).

`rerun_events` prepares a journal that replays a previous run up to a chosen node, so a run
starts from that node with the earlier outputs taken from the previous run.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shared.engine import _events as ev
from shared.engine._frames import Frame, NodeFailed
from shared.engine._journal import EventSpec
from shared.engine._state import NodeResult
from shared.expressions import ExpressionError, compile_value
from shared.flow import Flow, Node

if TYPE_CHECKING:
    from shared.engine._runner import Execution


@dataclass(eq=False)
class NodeStop:
    """One node instance as a hook sees it."""

    execution_id: str
    path: str
    """The instance path, loop indices included (`each[2]/fill`)."""
    node: Node
    params: Any
    """The params rendered in the node's scope (secrets masked), or None when they failed to render."""
    params_error: str | None
    result: NodeResult | None = None
    """How the node ended (after_node only; None in before_node)."""
    _execution: Execution | None = field(default=None, repr=False)
    _frame: Frame | None = field(default=None, repr=False)

    def _bound(self) -> tuple[Execution, Frame]:
        if self._execution is None or self._frame is None:
            raise RuntimeError("this NodeStop is not bound to a running execution")
        return self._execution, self._frame

    @property
    def node_id(self) -> str:
        """The node's id in its graph."""
        return self.node.id

    @property
    def depth(self) -> int:
        """How deep the instance is nested in containers and sub-flows (0 for the top graph)."""
        return self.path.count("/")

    @property
    def variables(self) -> dict[str, Any]:
        """The variables in scope (a masked copy)."""
        execution, frame = self._bound()
        return dict(execution.masker.mask(dict(frame.runtime.variables)))

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs of the nodes settled so far in scope, by node id (masked)."""
        execution, start = self._bound()
        found: dict[str, Any] = {}
        frame: Frame | None = start
        while frame is not None:
            for node_id, result in frame.results.items():
                found.setdefault(node_id, result.output)
            frame = frame.parent
        return dict(execution.masker.mask(found))

    @property
    def output(self) -> Any:
        """The node's output (after_node only; masked)."""
        execution, _ = self._bound()
        return None if self.result is None else execution.masker.mask(self.result.output)

    @property
    def error(self) -> dict[str, Any] | None:
        """The node's error, if it failed (after_node only; already masked when journaled)."""
        return None if self.result is None else self.result.error

    def evaluate(self, expression: str) -> Any:
        """The value of a template (`{{ vars.count > 3 }}`) in the node's scope.

        Raises:
            ExpressionError: it does not parse or fails to evaluate.
        """
        execution, frame = self._bound()
        return compile_value(expression)(execution.scope(frame))

    def set_variable(self, name: str, value: Any) -> None:
        """Set a variable of the running flow (journaled, so a resume keeps it)."""
        execution, frame = self._bound()
        runtime = frame.runtime
        runtime.variables[name] = value
        execution.emit((ev.VARIABLE_SET, self.path, {"scope": runtime.scope, "name": name, "value": value}))


class ExecutionHooks(Protocol):
    """Called around every node instance of an execution run with hooks."""

    async def before_node(self, stop: NodeStop) -> None:
        """Before the node starts; the node waits until this returns."""
        ...

    async def after_node(self, stop: NodeStop) -> None:
        """After the node settled; the flow waits until this returns."""
        ...


def _stop(execution: Execution, node: Node, path: str, frame: Frame) -> NodeStop:
    params: Any = None
    error: str | None = None
    try:
        params = execution.masker.mask(execution.render((id(node), "params"), node.params, frame))
    except ExpressionError as err:
        error = execution.masker.mask_text(err.message)
    return NodeStop(execution.execution_id, path, node, params, error, None, execution, frame)


async def run_hooked(execution: Execution, hooks: ExecutionHooks, node: Node, path: str, frame: Frame) -> str | None:
    """Run one node instance between the hooks' `before_node` and `after_node`."""
    stop = _stop(execution, node, path, frame)
    await hooks.before_node(stop)
    try:
        port = await execution.run_node_live(node, path, frame)
    except NodeFailed:
        stop.result = execution.state.results.get(path)
        await hooks.after_node(stop)
        raise
    stop.result = execution.state.results.get(path)
    await hooks.after_node(stop)
    return port


class PauseGate:
    """The simplest hooks: pause before the next node, resume (the tray's pause button)."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.waiting: NodeStop | None = None

    @property
    def paused(self) -> bool:
        """Whether a pause was asked for (the execution stops before its next node)."""
        return not self._open.is_set()

    def pause(self) -> None:
        """Stop before the next node starts."""
        self._open.clear()

    def resume(self) -> None:
        """Let the execution go on."""
        self._open.set()

    async def before_node(self, stop: NodeStop) -> None:
        """Wait while paused."""
        if not self._open.is_set():
            self.waiting = stop
            try:
                await self._open.wait()
            finally:
                self.waiting = None

    async def after_node(self, stop: NodeStop) -> None:
        """Nothing to do after a node."""


_TOP = re.compile(r"^[^/\[]+")


def _top_node(graphs: Iterable[Node], node_id: str) -> bool:
    for node in graphs:
        if node.id == node_id:
            return True
        for graph in node.graphs().values():
            if _top_node(graph.nodes, node_id):
                return True
    return False


def rerun_events(
    previous: Iterable[ev.Event], flow: Flow, node_id: str, *, execution_id: str | None = None
) -> list[EventSpec]:
    """Events that start a new run of `flow` from `node_id`, the earlier nodes replayed.

    What the nodes upstream of `node_id` (in the top graph; for a node inside a container, of
    that container) did in the previous run is kept: their outputs, ports, loop decisions and
    the variables they set. Everything else runs live. Seed a new journal with the result and
    run the flow on it: the engine replays the kept events and runs the rest.

    Args:
        previous: the previous run's journal.
        flow: the flow to run (the one the previous run ran, perhaps edited since).
        node_id: the node to start from (it and everything not upstream of it run live).
        execution_id: the new execution's id, written into its `execution.started`.

    Raises:
        KeyError: no node `node_id` in `flow`.
    """
    top = next((n.id for n in flow.nodes if _top_node([n], node_id)), None)
    if top is None:
        raise KeyError(node_id)
    predecessors: dict[str, set[str]] = {}
    for edge in flow.edges:
        predecessors.setdefault(edge.to, set()).add(edge.source)
    upstream: set[str] = set()
    stack = list(predecessors.get(top, ()))
    while stack:
        current = stack.pop()
        if current not in upstream:
            upstream.add(current)
            stack.extend(predecessors.get(current, ()))
    kept: list[EventSpec] = []
    for event in previous:
        if event.type == ev.EXECUTION_STARTED:
            started = dict(event.data)
            if execution_id is not None:
                started["execution_id"] = execution_id
            kept.append((event.type, event.path, started))
            continue
        if event.type in (ev.EXECUTION_FINISHED, ev.LOG, ev.NODE_NOTE):
            continue
        match = _TOP.match(event.path)
        if match is not None and match.group(0) in upstream:
            kept.append((event.type, event.path, dict(event.data)))
    return kept
