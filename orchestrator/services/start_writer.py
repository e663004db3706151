"""Group commit for starts: the executions that API requests (and triggers) start at about the
same time are stored in one transaction, one INSERT per table and one audit-head update per
organisation (`db/group_commit.py`), and the dispatcher is woken once per transaction: in
the app its pass runs at the end of that same transaction, so a start is stored and given to a
free agent in one commit.

A start is checked and built by `executions.prepare_start` in the caller's own session (reads
only); the writer stores it and answers once it is committed, so a 201 is never sent for an
execution that was not stored.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.group_commit import CommitLoop, GroupCommit
from orchestrator.db.session import Database
from orchestrator.models.execution_records import ExecutionRecord
from orchestrator.services.executions import NewExecution, queue_new


class StartWriter(GroupCommit[list[NewExecution]]):
    """The single writer of new executions in this process. A unit is the executions of one
    request, stored all or none."""

    name = "start-writer"

    def __init__(self, db: Database, *, loop: CommitLoop, on_queued: Callable[[], None] | None = None) -> None:
        super().__init__(db, loop=loop)
        self.on_queued = on_queued
        """Called once per batch, in its transaction, once the starts are written: the app's
        wakes the dispatcher, whose pass then runs at the end of the same transaction."""

    async def submit(self, new: NewExecution) -> ExecutionRecord:
        """Store `new` in the next batch; returns its execution record (as stored) once committed.

        The row is written with a Core INSERT, never through the ORM, so what comes back is the
        `ExecutionRecord` that was inserted, not an ORM `Execution`."""
        [execution] = await self.submit_many([new])
        return execution

    async def submit_many(self, news: list[NewExecution]) -> list[ExecutionRecord]:
        """Store all of `news` or none (one unit of the next batch)."""
        executions: list[ExecutionRecord] = await self._submit(news)
        return executions

    async def _write_batch(self, session: AsyncSession, units: list[list[NewExecution]]) -> list[list[ExecutionRecord]]:
        await queue_new(session, [new for unit in units for new in unit])
        if self.on_queued is not None:
            self.on_queued()
        return [[new.execution for new in unit] for unit in units]
