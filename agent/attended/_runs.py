"""Attended runs: started on this machine, at once, whether or not the orchestrator is there.

    start_attended(runtime, cached flow, inputs, trigger, user)
      → a new execution id (uuid4), journaled in the outbox with its `execution.report`
      → run by the runtime's job runner with the local engine, behind a journaled pause gate
      → the report goes out first on a protocol-5 connection, then the journal (`_reports.py`)

`AttendedRun` is the handle the tray, the hotkeys and the tests drive: pause, resume, stop
(the run ends `cancelled`, its `finally` bodies run), wait.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from agent.attended._cache import CachedFlow
from agent.attended._pause import JournaledPauseGate
from agent.runtime import AgentRuntime
from shared.protocol import ATTENDED_TRIGGERS, JobAssign


class AttendedRunError(Exception):
    """An attended run could not start (the message says why)."""


@dataclass
class AttendedRun:
    """One attended run on this agent."""

    execution_id: str
    flow: CachedFlow
    trigger: dict[str, Any]
    runtime: AgentRuntime = field(repr=False)
    gate: JournaledPauseGate = field(repr=False)
    started_at: float = field(default_factory=time.time)

    @property
    def running(self) -> bool:
        """Whether the run has not ended yet."""
        return self.execution_id in self.runtime.jobs.tasks

    @property
    def paused(self) -> bool:
        """Whether a pause was asked for (the run holds before its next node)."""
        return self.gate.paused

    def pause(self) -> None:
        """Hold the run before its next node (journaled once it holds)."""
        self.gate.pause()

    def resume(self) -> None:
        """Go on exactly where it stopped."""
        self.gate.resume()

    def stop(self) -> bool:
        """End the run as `cancelled` (its `finally` bodies run); False when it is not running."""
        self.gate.resume()  # a paused run must reach the cancel, not wait on
        if self.runtime.jobs.cancel(self.execution_id):
            return True
        if not self.running:
            return False
        # Started but its engine not yet running: the cancel is taken before its first node.
        self.gate.stop_requested = lambda: self.runtime.jobs.cancel(self.execution_id)
        return True

    async def wait(self) -> None:
        """Until the run has ended (or stopped here)."""
        task = self.runtime.jobs.tasks.get(self.execution_id)
        if task is not None:
            await asyncio.shield(task)


def resume_attended(runtime: AgentRuntime) -> list[AttendedRun]:
    """Go on with the attended runs an earlier process of this agent left unfinished (a crash, a
    `kill -9`): each resumes from its journal in the outbox, exactly as a resumed job does
    (completed steps are replayed, the step in progress runs again under the same idempotency key).

    Args:
        runtime: the agent runtime (its outbox holds the runs, with their flow and report).

    Returns:
        The runs resumed now.
    """
    resumed: list[AttendedRun] = []
    for record in runtime.outbox.pending_jobs():
        report = record.assignment.get("report")
        if report is None or record.finished or record.execution_id in runtime.jobs.tasks:
            continue
        assignment = {k: v for k, v in record.assignment.items() if k in JobAssign.model_fields and k != "journal"}
        job = JobAssign(**{**assignment, "attempt": record.attempt})
        flow = CachedFlow(report["workflow_id"], int(report["version"]), str(job.flow.get("name", "")), job.flow)
        gate = JournaledPauseGate()
        # The stored report goes with it: answered or not, the sender carries on from where it was.
        answer = runtime.jobs.take(job, report=report, hooks=gate)
        if answer.type != "job.accepted":
            continue
        gate.journal = runtime.jobs.journals.get(record.execution_id)
        resumed.append(AttendedRun(record.execution_id, flow, dict(report["trigger"]), runtime, gate))
    return resumed


def start_attended(
    runtime: AgentRuntime,
    flow: CachedFlow,
    *,
    inputs: dict[str, Any] | None = None,
    trigger: dict[str, Any],
    user_id: str | None,
) -> AttendedRun:
    """Create an execution here and start it at once, with or without the orchestrator.

    Args:
        runtime: the agent's runtime (its outbox, job runner and connection).
        flow: the cached published version to run.
        inputs: the run's inputs (checked against the flow's declared inputs by the engine).
        trigger: `{"type": "hotkey" | "tray", ...}`.
        user_id: the user signed in to the tray, who must be allowed to start the workflow.

    Returns:
        The run's handle.

    Raises:
        AttendedRunError: the trigger is not an attended one, or the runner refused the job
            (at capacity, an outbox that cannot be written, a flow this agent cannot read).
    """
    if trigger.get("type") not in ATTENDED_TRIGGERS:
        raise AttendedRunError(f"an attended run's trigger type is one of {', '.join(sorted(ATTENDED_TRIGGERS))}")
    execution_id = str(uuid.uuid4())
    job = JobAssign(execution_id=execution_id, attempt=1, flow=flow.document, inputs=dict(inputs or {}))
    report = {
        "execution_id": execution_id,
        "workflow_id": flow.workflow_id,
        "version": flow.version,
        "inputs": dict(inputs or {}),
        "trigger": dict(trigger),
        "user_id": user_id,
        "started_at": time.time(),
    }
    gate = JournaledPauseGate()
    answer = runtime.jobs.take(job, report=report, hooks=gate)
    if answer.type != "job.accepted":
        raise AttendedRunError(f"the run of '{flow.name}' could not start: {getattr(answer, 'reason', '')}")
    gate.journal = runtime.jobs.journals.get(execution_id)
    return AttendedRun(execution_id, flow, dict(trigger), runtime, gate)
