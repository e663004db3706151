"""The sender: every unacknowledged outbox event of every job, in batches, then `job.finished`;
and a job this agent will not finish (left by an earlier process of it, or stopped because the
outbox could not be written), handed back with `job.rejected` once its journal is in.

Before a job's events go out, its session checkpoints that are new or changed since this
connection last sent them go out as `session.checkpoint` (`_checkpoints.py`), to an
orchestrator that speaks version 4."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from agent.outbox import JobRecord, Outbox
from agent.runtime._checkpoints import CheckpointSender
from agent.runtime._reports import report_message, report_state
from shared.engine import Event
from shared.engine._events import EXECUTION_FINISHED
from shared.protocol import AgentMessage, JobFinished, JobRejected, JournalBatch, WireEvent

BATCH = 500
END_WINDOW = 5
"""`job.finished` carries the last `execution.finished` among the job's last this many events."""

Send = Callable[[AgentMessage], Awaitable[None]]


class Sender:
    """What one connection has sent of the outbox; make a new one for each connection.

    Args:
        outbox: the agent's outbox.
        send: sends one message on the connection.
        handback: jobs this agent will not finish, with the reason: each is handed back with
            `job.rejected` once its journal is fully acknowledged (the orchestrator then resumes
            it from there), and forgotten.
        forget: forgets a handed-back job (it may fail and retry later: the disk may be full).
        acked: acknowledgements the outbox could not store (a full disk), by execution.
    """

    def __init__(
        self,
        outbox: Outbox,
        send: Send,
        handback: dict[str, str],
        forget: Callable[[str], None],
        acked: dict[str, int],
        *,
        checkpoints: CheckpointSender | None = None,
        reports: bool = False,
    ) -> None:
        self.outbox = outbox
        self.send = send
        self.handback = handback
        self.forget = forget
        self.acked = acked
        self.sent: dict[str, int] = {}
        self.finish_sent: set[str] = set()
        self.checkpoints = checkpoints
        """Sends the session checkpoints (None: an orchestrator before version 4)."""
        self.reports = reports
        """Whether the orchestrator takes `execution.report` (version 5): attended runs wait otherwise."""
        self.reported: set[str] = set()
        """Attended runs whose report went out on this connection (its answer is awaited)."""
        self.ends: dict[str, Event] = {}
        """The `execution.finished` event sent last on this connection, by job: its `job.finished`
        needs no read of the outbox."""

    async def run(self, wake: asyncio.Event) -> None:
        """Send what is pending each time `wake` is set, until cancelled."""
        while True:
            await wake.wait()
            wake.clear()
            for record in self.outbox.pending_jobs():
                await self.flush(record)

    async def flush(self, record: JobRecord) -> None:
        """Send the job's events not sent on this connection, then its end when it has one."""
        execution_id = record.execution_id
        report = report_state(record)
        if report == "refused":
            if record.finished:  # kept here only, never sent; once ended there is nothing to keep
                self.forget(execution_id)
            return
        if report == "pending":
            # The report goes first; the journal once the orchestrator recorded it.
            if self.reports and execution_id not in self.reported:
                await self.send(report_message(record))
                self.reported.add(execution_id)
            return
        acked = max(record.acked_seq, self.acked.get(execution_id, 0))
        sent = max(self.sent.get(execution_id, 0), acked)
        if self.checkpoints is not None and not record.finished and _due(self.checkpoints, execution_id, sent, record):
            # After `record` was read: a checkpoint written before an event up to `record.last_seq`
            # is on disk now, and goes out before that event.
            await self.checkpoints.flush(execution_id, record.attempt, self.send)
        sent = await self._send_events(record, sent)
        if record.finished and execution_id not in self.finish_sent and sent >= record.last_seq:
            await self._send_end(record)
        elif execution_id in self.handback and acked >= record.last_seq and not record.finished:
            reason = self.handback.pop(execution_id)
            await self.send(JobRejected(execution_id=execution_id, attempt=record.attempt, reason=reason))
            self.forget(execution_id)

    async def _send_events(self, record: JobRecord, sent: int) -> int:
        """Send the job's events after `sent` up to `record.last_seq`; the last one sent."""
        execution_id = record.execution_id
        while sent < record.last_seq:
            events = [e for e in self.outbox.events(execution_id, sent, BATCH) if e.seq <= record.last_seq]
            if not events:
                break
            await self.send(
                JournalBatch(
                    execution_id=execution_id, attempt=record.attempt, events=[WireEvent.from_event(e) for e in events]
                )
            )
            sent = self.sent[execution_id] = events[-1].seq
            for event in events:
                if event.type == EXECUTION_FINISHED:
                    self.ends[execution_id] = event
        return sent

    async def _send_end(self, record: JobRecord) -> None:
        """Send `job.finished` with the end its journal records."""
        execution_id = record.execution_id
        end = self.ends.pop(execution_id, None)
        if end is None or end.seq <= record.last_seq - END_WINDOW:  # sent on an earlier connection: read it
            end = finished_event(self.outbox, execution_id)
        data = end.data if end is not None else {"status": "failed", "outputs": {}, "error": None}
        await self.send(
            JobFinished(
                execution_id=execution_id,
                attempt=record.attempt,
                status=data["status"],
                outputs=data.get("outputs") or {},
                error=data.get("error"),
                last_seq=record.last_seq,
            )
        )
        self.finish_sent.add(execution_id)

    def forget_job(self, execution_id: str) -> None:
        """Drop what this connection kept of a job the outbox forgot."""
        self.sent.pop(execution_id, None)
        self.finish_sent.discard(execution_id)
        self.reported.discard(execution_id)
        self.ends.pop(execution_id, None)
        if self.checkpoints is not None:
            self.checkpoints.forget(execution_id)


def _due(checkpoints: CheckpointSender, execution_id: str, sent: int, record: JobRecord) -> bool:
    """Whether to look for the job's checkpoints now: on its first flush on this connection
    (every file goes again), and before events go out (a checkpoint precedes the events appended
    after it). Between those, a change waits for the event that follows it: the sender wakes for
    every job at each event of any, and looking each time was much of its work."""
    return sent < record.last_seq or execution_id not in checkpoints.sent


def finished_event(outbox: Outbox, execution_id: str) -> Event | None:
    """The job's `execution.finished` event, when its journal ends with one."""
    record = outbox.job(execution_id)
    if record is None or record.last_seq == 0:
        return None
    found = [
        e
        for e in outbox.events(execution_id, after_seq=max(0, record.last_seq - END_WINDOW))
        if e.type == EXECUTION_FINISHED
    ]
    return found[-1] if found else None
