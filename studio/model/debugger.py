"""The studio's debugger: a state machine (one table) driving the engine's debug hooks.

    state      action      next
    idle       start       running
    finished   start       running
    running    pause       pausing     (stops before the next node)
    running    hit         paused      (a breakpoint, or the end of a step)
    pausing    hit         paused
    paused     continue    running
    paused     step_over   running     (stops at the next node not nested deeper)
    paused     step_into   running     (stops at the very next node, inside a container too)
    running, pausing, paused   stop     stopping (the engine cancels the execution)
    running, pausing, paused, stopping   finish   finished

An action not in the table raises `DebuggerError` naming the actions the state allows. The
debugger runs the flow with the engine in-process (asyncio; the studio's qasync loop); it is
the `ExecutionHooks` of that run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.engine import Engine, Event, ExecutionResult, MemoryJournal, NodeStop, rerun_events
from shared.expressions import ExpressionError
from shared.flow import Flow
from studio.model._events import DebuggerChanged, DebuggerNode, EventBus

TRANSITIONS: dict[tuple[str, str], str] = {
    ("idle", "start"): "running",
    ("finished", "start"): "running",
    ("running", "pause"): "pausing",
    ("running", "hit"): "paused",
    ("pausing", "hit"): "paused",
    ("paused", "continue"): "running",
    ("paused", "step_over"): "running",
    ("paused", "step_into"): "running",
    ("running", "stop"): "stopping",
    ("pausing", "stop"): "stopping",
    ("paused", "stop"): "stopping",
    ("running", "finish"): "finished",
    ("pausing", "finish"): "finished",
    ("paused", "finish"): "finished",
    ("stopping", "finish"): "finished",
}
"""(state, action) -> next state: every move the debugger makes."""


class DebuggerError(RuntimeError):
    """An action the debugger's state does not allow."""


@dataclass
class Breakpoint:
    """Stop before a node; with a condition, only when it is true in the node's scope."""

    node: str
    condition: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class NodeRun:
    """A settled node instance as the debugger shows it."""

    path: str
    node: str
    status: str | None
    params: Any
    output: Any
    error: dict[str, Any] | None


class Debugger:
    """Runs a flow with breakpoints and steps, and keeps what the views show.

    Args:
        engine: the engine to run the flow with (the studio's local engine).
        flow: the flow to run.
        events: where `DebuggerChanged` and `DebuggerNode` go (the document's bus, or a new one).
    """

    def __init__(self, engine: Engine, flow: Flow, *, events: EventBus | None = None) -> None:
        self.engine = engine
        self.flow = flow
        self.events = events or EventBus()
        self.state = "idle"
        self.breakpoints: dict[str, Breakpoint] = {}
        self.current: NodeStop | None = None
        """The node the run is paused before (None unless paused)."""
        self.reason: str | None = None
        """Why it paused: `breakpoint`, `step`, `pause`, or a condition's error."""
        self.runs: dict[str, NodeRun] = {}
        """Settled node instances by path, in the order they settled."""
        self.journal: MemoryJournal | None = None
        self.result: ExecutionResult | None = None
        self.task: asyncio.Task[ExecutionResult] | None = None
        self._mode: str | None = None
        self._step_depth = 0
        self._gate = asyncio.Event()
        self._paused = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- the state machine -----------------------------------------------------------------

    def _move(self, action: str) -> None:
        target = TRANSITIONS.get((self.state, action))
        if target is None:
            allowed = sorted(a for (state, a) in TRANSITIONS if state == self.state)
            raise DebuggerError(f"cannot {action} while {self.state}; allowed: {', '.join(allowed) or 'nothing'}")
        self.state = target
        node = self.current.node_id if self.current is not None else None
        path = self.current.path if self.current is not None else None
        self.events.emit(DebuggerChanged(target, node, path))

    # -- breakpoints ------------------------------------------------------------------------

    def set_breakpoint(self, node: str, condition: str | None = None) -> Breakpoint:
        """Stop before `node` (every instance of it), when `condition` is true if given."""
        point = self.breakpoints[node] = Breakpoint(node, condition)
        return point

    def clear_breakpoint(self, node: str) -> None:
        """Remove the breakpoint on `node`."""
        self.breakpoints.pop(node, None)

    # -- running ----------------------------------------------------------------------------

    def start(
        self, inputs: Mapping[str, Any] | None = None, *, journal: MemoryJournal | None = None
    ) -> asyncio.Task[ExecutionResult]:
        """Run the flow (on the running event loop); returns the run's task."""
        self._move("start")
        self.runs.clear()
        self.result = None
        self.current, self.reason, self._mode = None, None, None
        self._paused.clear()
        self.journal = journal or MemoryJournal(uuid.uuid4().hex)
        self.task = asyncio.get_running_loop().create_task(
            self.engine.run(self.flow, inputs, journal=self.journal, hooks=self)
        )
        self.task.add_done_callback(self._finished)
        return self.task

    def run_from(
        self, node: str, previous: Iterable[Event], inputs: Mapping[str, Any] | None = None
    ) -> asyncio.Task[ExecutionResult]:
        """Run from `node`, the nodes upstream of it replayed from a previous run's journal."""
        execution_id = uuid.uuid4().hex
        journal = MemoryJournal(execution_id)
        journal.append_many(rerun_events(previous, self.flow, node, execution_id=execution_id))
        return self.start(inputs, journal=journal)

    def _finished(self, task: asyncio.Task[ExecutionResult]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.result = task.result()
        self.current = None
        self._paused.set()  # wake anyone waiting for a pause that will not come
        self._move("finish")

    async def wait_paused(self) -> NodeStop | None:
        """Wait until the run pauses (returns where) or ends (returns None)."""
        await self._paused.wait()
        return self.current

    async def wait_finished(self) -> ExecutionResult | None:
        """Wait until the run ends; its result (None when it was torn down)."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        return self.result

    # -- the user's actions -----------------------------------------------------------------

    def pause(self) -> None:
        """Pause before the next node starts."""
        self._move("pause")

    def continue_(self) -> None:
        """Run on to the next breakpoint."""
        self._release("continue", None)

    def step_over(self) -> None:
        """Run the current node (a container whole) and pause before the next one."""
        self._release("step_over", "over")

    def step_into(self) -> None:
        """Pause at the very next node: inside the current container if it is one."""
        self._release("step_into", "into")

    def stop(self) -> None:
        """End the run (it finishes as `cancelled`)."""
        self._move("stop")
        if self.journal is not None:
            self.engine.cancel(self.journal.execution_id)

    def set_variable(self, name: str, value: Any) -> None:
        """Change a variable while paused (the run goes on with the new value)."""
        if self.state != "paused" or self.current is None:
            raise DebuggerError(f"variables can be edited while paused, not while {self.state}")
        self.current.set_variable(name, value)

    def _release(self, action: str, mode: str | None) -> None:
        self._move(action)
        self._mode = mode
        self._step_depth = self.current.depth if self.current is not None else 0
        self.current = None
        self._paused.clear()
        self._gate.set()

    # -- the engine's hooks -----------------------------------------------------------------

    def _why_stop(self, stop: NodeStop) -> str | None:
        if self.state == "pausing":
            return "pause"
        if self._mode == "into" or (self._mode == "over" and stop.depth <= self._step_depth):
            return "step"
        point = self.breakpoints.get(stop.node_id)
        if point is None or not point.enabled:
            return None
        if point.condition is None:
            return "breakpoint"
        try:
            return "breakpoint" if stop.evaluate(point.condition) else None
        except ExpressionError as err:
            return f"breakpoint condition failed: {err.message}"

    async def before_node(self, stop: NodeStop) -> None:
        """Pause here if a breakpoint, a step or a pause asks for it."""
        self.events.emit(DebuggerNode("started", stop.node_id, stop.path))
        # One pause at a time: parallel branches wait here while another one is paused.
        async with self._lock:
            if self.state == "stopping":
                return
            reason = self._why_stop(stop)
            if reason is None:
                return
            self._mode = None
            self.current, self.reason = stop, reason
            self._gate.clear()
            self._move("hit")
            self._paused.set()
            await self._gate.wait()

    async def after_node(self, stop: NodeStop) -> None:
        """Keep the node's rendered params and its output for the views."""
        result = stop.result
        status = result.status if result is not None else None
        self.runs[stop.path] = NodeRun(
            stop.path,
            stop.node_id,
            status,
            stop.params,
            stop.output,
            stop.error,
        )
        self.events.emit(DebuggerNode("finished", stop.node_id, stop.path, status))
