"""The debugger's controller: runs `studio.model.debugger` on the Qt window's asyncio loop.

The engine is asyncio and the studio's loop is qasync's, so a run is a task on the same loop as
the widgets: the window stays responsive while it runs and while it is paused (sync steps run in
worker threads already). The controller keeps what outlives one run — the breakpoints, the last
run's journal (for "run from the selected node"), the log lines and the artifacts — and turns the
model's events into Qt signals the dock redraws from. Log lines may arrive from a step's worker
thread; Qt queues the signal to the window's thread.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from shared.engine import Engine, Event, ExecutionResult, MemoryJournal, NodeStop, rerun_events
from shared.flow import Flow
from studio.model import DebuggerChanged, DebuggerNode, FlowDocument
from studio.model.debugger import Breakpoint, Debugger, DebuggerError, NodeRun

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
"""Artifacts shown as thumbnails (screenshots, captured regions)."""

SecretLookup = Callable[[str], "str | None"]


class DebugController(QObject):
    """Runs the document's flow under the debugger and remembers what the views show.

    Args:
        document: the open flow; `DebuggerChanged` / `DebuggerNode` go to its event bus.
        secrets: looks a credential up by name for the run (the vault, a secrets file), or None.
        artifacts_dir: where runs write their files; a temporary folder when None.
        parent: the Qt parent.
    """

    state_changed = Signal(str)
    """The debugger's state (`running`, `paused`, `finished`...)."""
    paused = Signal(object)
    """The `NodeStop` the run paused before."""
    node_settled = Signal(object)
    """A `NodeRun` (params, output, error of one settled node instance)."""
    log_line = Signal(str, str, str)
    """(path, level, message) of a step's log line, already masked."""
    artifacts_changed = Signal()
    """New files in the run's artifacts folder."""
    breakpoints_changed = Signal()
    """A breakpoint was added, removed or its condition changed."""
    finished = Signal(object)
    """The run's `ExecutionResult` (None when it was torn down)."""

    def __init__(
        self,
        document: FlowDocument,
        *,
        secrets: SecretLookup | None = None,
        artifacts_dir: str | Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.secrets = secrets
        self.artifacts_root = Path(artifacts_dir or tempfile.mkdtemp(prefix="rpa-studio-debug-"))
        self.breakpoints: dict[str, Breakpoint] = {}
        self.debugger: Debugger | None = None
        self.journal: MemoryJournal | None = None
        self.last_events: list[Event] = []
        """The journal of the last run (what "run from here" replays)."""
        self.logs: list[tuple[str, str, str]] = []
        self.artifacts: list[Path] = []
        self.result: ExecutionResult | None = None
        self._disconnect = [
            document.events.connect(DebuggerChanged, self._on_changed),
            document.events.connect(DebuggerNode, self._on_node),
        ]

    # -- state ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The debugger's state; `idle` before the first run."""
        return self.debugger.state if self.debugger is not None else "idle"

    @property
    def current(self) -> NodeStop | None:
        """Where the run is paused (None unless paused)."""
        return self.debugger.current if self.debugger is not None else None

    @property
    def reason(self) -> str | None:
        """Why the run paused (`breakpoint`, `step`, `pause`, or a condition's error)."""
        return self.debugger.reason if self.debugger is not None else None

    @property
    def runs(self) -> dict[str, NodeRun]:
        """The node instances settled in the current (or last) run, by path."""
        return self.debugger.runs if self.debugger is not None else {}

    # -- breakpoints ------------------------------------------------------------------------

    def toggle_breakpoint(self, node: str) -> bool:
        """Add a breakpoint on `node`, or remove it; True when there is one now."""
        if node in self.breakpoints:
            self.clear_breakpoint(node)
            return False
        self.set_breakpoint(node)
        return True

    def set_breakpoint(self, node: str, condition: str | None = None) -> Breakpoint:
        """Stop before `node`, only when `condition` (an expression like `{{ vars.n > 3 }}`) is true if given."""
        point = self.breakpoints[node] = Breakpoint(node, condition or None)
        if self.debugger is not None:
            self.debugger.breakpoints[node] = point
        self.breakpoints_changed.emit()
        return point

    def clear_breakpoint(self, node: str) -> None:
        """Remove the breakpoint on `node` (also from a run in progress)."""
        self.breakpoints.pop(node, None)
        if self.debugger is not None:
            self.debugger.clear_breakpoint(node)
        self.breakpoints_changed.emit()

    # -- running ----------------------------------------------------------------------------

    def _engine(self) -> Engine:
        folder = self.document.path.resolve().parent if self.document.path is not None else None
        return Engine(
            self.document.registry,
            secrets=self.secrets,
            artifacts_dir=self.artifacts_root,
            on_log=self._on_log,
            flow_dir=folder,
        )

    def _prepare(self) -> tuple[Debugger, Flow]:
        if self.state not in ("idle", "finished"):
            raise DebuggerError(f"a run is already {self.state}: stop it first")
        flow = self.document.to_flow()
        debugger = Debugger(self._engine(), flow, events=self.document.events)
        debugger.breakpoints = self.breakpoints  # shared: toggles while running apply at once
        self.debugger = debugger
        self.logs.clear()
        self.artifacts.clear()
        self.result = None
        self.artifacts_changed.emit()
        return debugger, flow

    def _journal(self, execution_id: str | None = None) -> MemoryJournal:
        journal = MemoryJournal(execution_id or uuid.uuid4().hex)
        self.journal = journal
        return journal

    def run(self, inputs: Mapping[str, Any] | None = None) -> asyncio.Task[ExecutionResult]:
        """Run the document's flow under the debugger (on the running loop).

        Raises:
            DebuggerError: a run is in progress.
            FlowInvalidError: the document is not a valid flow (every problem listed).
        """
        debugger, _ = self._prepare()
        task = debugger.start(inputs, journal=self._journal())
        task.add_done_callback(self._on_done)
        return task

    def run_from(self, node: str, inputs: Mapping[str, Any] | None = None) -> asyncio.Task[ExecutionResult]:
        """Run from `node`, the nodes upstream of it taking their outputs from the last run.

        Raises:
            DebuggerError: no earlier run to take outputs from, or a run is in progress.
        """
        if not self.last_events:
            raise DebuggerError("run the flow once first: its outputs are what a run from a node starts with")
        previous = list(self.last_events)
        debugger, flow = self._prepare()
        journal = self._journal()
        journal.append_many(rerun_events(previous, flow, node, execution_id=journal.execution_id))
        task = debugger.start(inputs, journal=journal)
        task.add_done_callback(self._on_done)
        return task

    def _require(self) -> Debugger:
        if self.debugger is None:
            raise DebuggerError("nothing is running: start a run first")
        return self.debugger

    def continue_(self) -> None:
        """Run on to the next breakpoint."""
        self._require().continue_()

    def step_over(self) -> None:
        """Run the paused node (a container whole) and pause before the next one."""
        self._require().step_over()

    def step_into(self) -> None:
        """Pause at the very next node, inside a container too."""
        self._require().step_into()

    def pause(self) -> None:
        """Pause before the next node starts."""
        self._require().pause()

    def stop(self) -> None:
        """End the run: `finally` blocks run and it finishes as `cancelled`."""
        self._require().stop()

    def set_variable(self, name: str, value: Any) -> None:
        """Change a variable while paused; the next nodes see the new value."""
        self._require().set_variable(name, value)

    async def wait_paused(self) -> NodeStop | None:
        """Wait until the run pauses (where) or ends (None)."""
        return await self._require().wait_paused()

    async def wait_finished(self) -> ExecutionResult | None:
        """Wait until the run ends; its result."""
        return await self._require().wait_finished()

    def close(self) -> None:
        """Stop listening to the document (the dock is closing); a paused run is stopped."""
        if self.state in ("running", "pausing", "paused"):
            self.stop()
        for disconnect in self._disconnect:
            disconnect()
        self._disconnect.clear()

    # -- the model's and the engine's callbacks ------------------------------------------------

    def _on_changed(self, event: DebuggerChanged) -> None:
        self.state_changed.emit(event.state)
        if event.state == "paused" and self.current is not None:
            self.paused.emit(self.current)

    def _on_node(self, event: DebuggerNode) -> None:
        if event.phase != "finished" or self.debugger is None:
            return
        run = self.debugger.runs.get(event.path)
        if run is not None:
            self.node_settled.emit(run)
        self._scan_artifacts()

    def _on_log(self, execution_id: str, path: str, level: str, message: str) -> None:
        self.logs.append((path, level, message))
        self.log_line.emit(path, level, message)

    def _on_done(self, task: asyncio.Task[ExecutionResult]) -> None:
        self.result = None if task.cancelled() or task.exception() is not None else task.result()
        if self.journal is not None:  # a stopped or failed run can be rerun from too
            self.last_events = self.journal.read()
        self._scan_artifacts()
        self.finished.emit(self.result)

    def _scan_artifacts(self) -> None:
        if self.journal is None:
            return
        folder = self.artifacts_root / self.journal.execution_id
        if not folder.is_dir():
            return
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if found != self.artifacts:
            self.artifacts = found
            self.artifacts_changed.emit()
