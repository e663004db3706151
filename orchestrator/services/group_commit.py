"""Group commit: one transaction for the small writes of many callers.

A caller submits a unit of database work and waits for its result. Units that arrive while a
transaction is being written wait for the next one, which writes them all (up to `max_batch`)
in arrival order. The fixed cost of a transaction (BEGIN, COMMIT, the statements that can be
shared: one lock query, one executemany, one audit-head update) is paid once per batch instead
of once per unit, and on SQLite the writers stop queueing on the database's single write lock.

A unit that raises must not take the others' work with it: the batch is rolled back and every
unit is written again alone, in its own transaction, where its error reaches its own caller.
Units are therefore database work only and their results plain values; what follows the commit
(replies, waking the dispatcher) the caller does with the result, or `_committed` does once per
batch.

A writer that is not running (tests without the app's lifespan, shutdown) writes each unit alone.
"""

from __future__ import annotations

import asyncio
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.session import Database
from orchestrator.services.background import BackgroundService

Unit = TypeVar("Unit")

MAX_BATCH = 256


class GroupCommit(BackgroundService, Generic[Unit]):
    """Subclasses say how a batch is written (`_write_batch`) and may act once it is committed."""

    name = "group-commit"

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[tuple[Unit, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self.batches = 0
        self.units = 0
        self.fallbacks = 0

    async def _write_batch(self, session: AsyncSession, units: list[Unit]) -> list[Any]:  # pragma: no cover
        """Write `units` in `session`'s transaction; one result per unit, in order."""
        raise NotImplementedError

    def _committed(self, units: list[Unit], results: list[Any]) -> None:
        """Called after each committed transaction (a batch, or a unit written alone)."""

    async def write_alone(self, unit: Unit) -> Any:
        """One unit in its own transaction."""
        async with self.db.write_transaction() as session:
            [result] = await self._write_batch(session, [unit])
        self._committed([unit], [result])
        return result

    async def _submit(self, unit: Unit) -> Any:
        if self._task is None or self._task.done():
            return await self.write_alone(unit)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((unit, future))
        self._wake.set()
        return await future

    async def stop(self) -> None:
        await super().stop()
        for _, future in self._pending:
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

    async def _write(self, batch: list[tuple[Unit, asyncio.Future[Any]]]) -> None:
        live = [entry for entry in batch if not entry[1].done()]  # a caller that went away stops waiting
        if not live:
            return
        units = [unit for unit, _ in live]
        try:
            async with self.db.write_transaction() as session:
                results = await self._write_batch(session, units)
        except Exception as error:
            if len(live) == 1:
                _settle(live[0][1], error=error)
                return
            self.fallbacks += 1
            for unit, future in live:  # each alone: only the unit at fault fails
                try:
                    _settle(future, result=await self.write_alone(unit))
                except Exception as alone:
                    _settle(future, error=alone)
            return
        self.batches += 1
        self.units += len(live)
        self._committed(units, results)
        for (_, future), result in zip(live, results, strict=True):
            _settle(future, result=result)


def _settle(future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
