"""Pause and resume of an attended run, journaled.

The engine's `PauseGate` holds the run before its next node; this one also journals when the
pause took effect and when it ended (`node.note` kinds `paused` / `resumed`, execution-level), so
the orchestrator shows the execution `paused` (`orchestrator/runtime/agent_session.py`) and a
reader of the journal sees where it stood. A note is not folded by the engine: a resume from the
journal runs on as if no pause happened.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from agent.outbox import OutboxJournal
from shared.engine import NodeStop, PauseGate

PAUSED = "paused"
RESUMED = "resumed"


class JournaledPauseGate(PauseGate):
    """A `PauseGate` that journals the pause once it holds the run, and its end.

    Args:
        journal: the run's journal (its outbox journal).
    """

    def __init__(self, journal: OutboxJournal | None = None) -> None:
        super().__init__()
        self.journal = journal
        self.held_at: str | None = None
        """The node the run waits before while paused (None: not held now)."""
        self.step_gate = threading.Event()
        """Set while the run may go on: steps that call `context().checkpoint()` between their
        actions (the desktop steps) hold there while paused (`StepContext.pause_gate`)."""
        self.step_gate.set()
        self.stop_requested: Callable[[], object] | None = None
        """A stop asked before the engine ran (it cancels at the first node, nothing runs)."""

    def pause(self) -> None:
        """Hold before the next node, and at the next checkpoint of a step running now."""
        self.step_gate.clear()
        super().pause()

    def resume(self) -> None:
        """Go on, from the node or the step action where it held."""
        super().resume()
        self.step_gate.set()

    async def before_node(self, stop: NodeStop) -> None:
        """Wait while paused, journaling the pause and the resume around the wait."""
        if self.stop_requested is not None:
            self.stop_requested()  # the engine runs now: it takes the cancel at the next await
            await asyncio.sleep(0)
        if not self.paused:
            return
        self.held_at = stop.path
        self._note(PAUSED, {"before": stop.path, "at": time.time()})
        try:
            await super().before_node(stop)
        finally:
            self.held_at = None
        self._note(RESUMED, {"before": stop.path, "at": time.time()})

    def _note(self, kind: str, data: dict[str, object]) -> None:
        if self.journal is not None:
            self.journal.append_many([("node.note", "", {"kind": kind, **data})])
