"""Group commit for what agents report: one transaction for the messages of many connections.

Every agent message that changes an execution (accepted, rejected, a journal batch, finished)
is a small unit of database work. Done one transaction each, the fixed cost of a transaction
and of loading the row dominates; here the units that arrive while a transaction is being
written wait for the next one, which locks all their executions with one query and runs them
in arrival order. A connection sends its next message only once the previous one is answered,
so the order of each agent's messages is kept.

A unit that raises (a journal that conflicts with the stored one, a state move the rules
refuse) must not take the others' work with it: the whole batch is rolled back and every unit
is run again alone, in its own transaction, where its error reaches the connection that sent
it. The work of a unit is therefore only database work, and its result is a plain value; what
follows the commit (replies, releasing a slot, the live view) the connection does with it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.session import Database
from orchestrator.models.executions import Execution
from orchestrator.services.background import BackgroundService

Rows = dict[uuid.UUID, Execution]
Work = Callable[[AsyncSession, Rows], Awaitable[Any]]
"""Database work on the executions it names (locked and loaded into `Rows`); its result is handed
back to the caller once the transaction has committed."""

MAX_BATCH = 256


async def lock_executions(session: AsyncSession, ids: set[uuid.UUID]) -> Rows:
    """Load and lock the executions (in id order, so two batches never lock in opposite orders)."""
    if not ids:
        return {}
    found = await session.scalars(select(Execution).where(Execution.id.in_(ids)).order_by(Execution.id)
                                  .with_for_update())
    return {execution.id: execution for execution in found}


async def write_alone(db: Database, execution_id: uuid.UUID, work: Work) -> Any:
    """One unit in its own transaction (what the writer falls back to)."""
    async with db.transaction() as session:
        return await work(session, await lock_executions(session, {execution_id}))


class AgentWriter(BackgroundService):
    """The single writer of agent reports in this process."""

    name = "agent-writer"

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[tuple[uuid.UUID, Work, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self.batches = 0
        self.units = 0
        self.fallbacks = 0

    async def submit(self, execution_id: uuid.UUID, work: Work) -> Any:
        """Run `work` in the next batch; returns its result once committed (or raises its error)."""
        if self._task is None or self._task.done():
            return await write_alone(self.db, execution_id, work)  # not running (tests, shutdown)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((execution_id, work, future))
        self._wake.set()
        return await future

    async def stop(self) -> None:
        await super().stop()
        for _, _, future in self._pending:
            if not future.done():
                future.set_exception(ConnectionAbortedError("the orchestrator is stopping"))
        self._pending.clear()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                await self._write(batch)

    async def _write(self, batch: list[tuple[uuid.UUID, Work, asyncio.Future[Any]]]) -> None:
        live = [unit for unit in batch if not unit[2].done()]  # a connection that went away stops waiting
        if not live:
            return
        try:
            async with self.db.transaction() as session:
                rows = await lock_executions(session, {execution_id for execution_id, _, _ in live})
                results = [await work(session, rows) for _, work, _ in live]
        except Exception as error:
            if len(live) == 1:
                _settle(live[0][2], error=error)
                return
            self.fallbacks += 1
            for execution_id, work, future in live:  # each alone: only the unit at fault fails
                try:
                    _settle(future, result=await write_alone(self.db, execution_id, work))
                except Exception as alone:
                    _settle(future, error=alone)
            return
        self.batches += 1
        self.units += len(live)
        for (_, _, future), result in zip(live, results, strict=True):
            _settle(future, result=result)


def _settle(future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
