"""Group commit: one transaction for the small writes of many callers.

A caller submits a unit of database work and waits for its result. Units that arrive while a
transaction is being written wait for the next one, which writes them all (up to `max_batch`)
in arrival order. The fixed cost of a transaction (BEGIN, COMMIT, the statements that can be
shared: one lock query, one executemany, one audit-head update) is paid once per batch instead
of once per unit, and on SQLite the writers stop queueing on the database's single write lock.

The loop that writes the batches (`CommitLoop`) can serve several writers: the app gives the
start writer and the agent writer one loop, so the starts of API requests and the reports of
agents that arrive together share one transaction, and the dispatcher's pass (a `Finisher`)
runs at the end of it: a start is stored and given to an agent in the same transaction. Under
load each writer's own transaction held only a few units, and the three transactions of a cycle
(starts, reports, dispatch) cost more than their statements (bench/README.md).

A unit that raises must not take the others' work with it: the batch is rolled back and every
unit is written again alone, in its own transaction, where its error reaches its own caller.
A finisher that raises is told so (`failed`) and the batch's units are written again without it.
Units are therefore database work only and their results plain values; what follows the commit
(replies, waking the dispatcher) the caller does with the result, or `_committed` does once per
batch.

A writer whose loop is not running (tests without the app's lifespan, shutdown) writes each
unit alone.
"""

from __future__ import annotations

import asyncio
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.background import BackgroundService
from orchestrator.db.session import Database

Unit = TypeVar("Unit")

MAX_BATCH = 256

Entry = tuple["GroupCommit[Any]", Any, asyncio.Future[Any]]


class Finisher(Protocol):
    """Work a `CommitLoop` runs at the end of a batch once `request`ed (the dispatcher's pass)."""

    def ready(self) -> bool:
        """Whether the requested work has anything to do now (checked without a query)."""

    async def finish(self, session: AsyncSession) -> Any:
        """The work, in the batch's transaction; its result goes to `committed`."""

    def committed(self, result: Any) -> None:
        """The batch was committed."""

    def failed(self, error: BaseException | None) -> None:
        """The batch was rolled back (`error`: raised by `finish`; None: by a unit or the commit)."""


class CommitLoop(BackgroundService):
    """Writes the units of its writers in batches, each batch one transaction."""

    name = "commit-loop"

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[Entry] = []
        self._wake = asyncio.Event()
        self._requested: dict[Finisher, None] = {}
        """The finishers asked for since the last batch, in the order asked."""

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def request(self, finisher: Finisher) -> None:
        """Run `finisher` at the end of the next batch (one with no unit, if none arrives)."""
        self._requested[finisher] = None
        self._wake.set()

    async def submit(self, writer: GroupCommit[Any], unit: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((writer, unit, future))
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
            while self._pending or self._requested:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                await self._write(batch)

    def _take_requested(self) -> list[Finisher]:
        """The requested finishers that have something to do; every request is answered."""
        taken, self._requested = self._requested, {}
        return [finisher for finisher in taken if finisher.ready()]

    async def _write(self, batch: list[Entry], *, finish: bool = True) -> None:  # noqa: C901
        live = [entry for entry in batch if not entry[2].done()]  # a caller that went away stops waiting
        finishers = self._take_requested() if finish else []
        if not live and not finishers:
            return
        groups: dict[GroupCommit[Any], list[Entry]] = {}
        for entry in live:
            groups.setdefault(entry[0], []).append(entry)
        results: dict[GroupCommit[Any], list[Any]] = {}
        finished: list[tuple[Finisher, Any]] = []
        failing: tuple[Finisher, BaseException] | None = None
        try:
            async with self.db.write_transaction() as session:
                for writer, entries in groups.items():
                    results[writer] = await writer._write_batch(session, [unit for _, unit, _ in entries])
                if finish:  # after the units, and after what they asked for (a start wants a dispatch)
                    finishers += [f for f in self._take_requested() if f not in finishers]
                for finisher in finishers:
                    try:
                        finished.append((finisher, await finisher.finish(session)))
                    except Exception as error:
                        failing = (finisher, error)
                        raise
        except Exception as error:
            for finisher in finishers:
                finisher.failed(failing[1] if failing is not None and failing[0] is finisher else None)
            if failing is not None:
                await self._write(live, finish=False)  # the units, without the finisher that failed
            elif len(live) == 1:  # it was alone already: its error is its own
                _settle(live[0][2], error=error)
            elif live:
                await self._alone(live)
            return
        for writer, entries in groups.items():
            writer.batches += 1
            writer.units += len(entries)
            writer._committed([unit for _, unit, _ in entries], results[writer])
            for (_, _, future), result in zip(entries, results[writer], strict=True):
                _settle(future, result=result)
        for finisher, result in finished:
            finisher.committed(result)

    async def _alone(self, live: list[Entry]) -> None:
        for writer in {entry[0] for entry in live}:
            writer.fallbacks += 1
        for writer, unit, future in live:  # each alone: only the unit at fault fails
            try:
                _settle(future, result=await writer.write_alone(unit))
            except Exception as alone:
                _settle(future, error=alone)


class GroupCommit(Generic[Unit]):
    """Subclasses say how a batch is written (`_write_batch`) and may act once it is committed.

    The writer's units are written by `loop`, which the app shares between its writers."""

    name = "group-commit"

    def __init__(self, db: Database, *, loop: CommitLoop) -> None:
        self.db = db
        self.loop = loop
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
        if not self.loop.running:
            return await self.write_alone(unit)
        return await self.loop.submit(self, unit)


def _settle(future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
