"""Attended runs the agent created itself: where their `execution.report` stands.

A run started on this machine (a hotkey, the tray) is journaled in the outbox like an assigned
job, its assignment carrying `report` (the `execution.report` fields). Until the orchestrator
answers `execution.recorded`, the job is in no `hello` (the orchestrator does not know the id yet,
and would tell the agent to stop it) and none of its events is sent: the report goes first, on a
connection of protocol 5 or later. An older orchestrator never sees it; the run completes here and
its report and journal wait in the outbox until a connection speaks version 5.

    pending  --execution.recorded accepted-->  recorded (journal sent as any job's)
             --execution.recorded refused--->  refused (kept here, never sent; forgotten once ended)
"""

from __future__ import annotations

from typing import Any, Literal

from agent.outbox import JobRecord
from shared.protocol import ExecutionReport

REPORT_KEY = "report"
STATE_KEY = "report_state"
REASON_KEY = "report_refused"

ReportState = Literal["none", "pending", "recorded", "refused"]

REPORTS_FROM = 5
"""The first protocol version with `execution.report`."""


def report_state(record: JobRecord) -> ReportState:
    """Where a job's report stands ("none": an assigned job, not an attended run of this agent)."""
    report = record.assignment.get(REPORT_KEY)
    if report is None:
        return "none"
    state = record.assignment.get(STATE_KEY)
    if state in ("recorded", "refused"):
        return state  # type: ignore[no-any-return]
    return "pending"


def report_message(record: JobRecord) -> ExecutionReport:
    """The `execution.report` of an attended job (a fresh message id each time it is sent)."""
    report: dict[str, Any] = dict(record.assignment[REPORT_KEY])
    return ExecutionReport(**report)


def is_attended(record: JobRecord) -> bool:
    """Whether the agent created this job itself (an attended run), rather than being assigned it."""
    return REPORT_KEY in record.assignment
