"""The runner: leases triggers that need a process watching them (schedules, sources, and with
the event bus chains and events, whose news it sweeps: `_news_sweep.py`) and runs one task per
leased trigger.

Leases are rows: `lease_owner` and `lease_expires_at` on the trigger. Every `tick_s` one UPDATE
takes the enabled triggers whose lease is free, expired or already this process's, and renews
them (`lease_s` ahead); a second process on the same database finds them held and leaves them.
A process that dies stops renewing; after `lease_s` another takes them over, its schedule
catching up what fell due meanwhile by the trigger's policy. A task whose lease was lost (a
stalled process) is stopped; should it fire once more meanwhile, the event's key (the due time,
the source's key) makes that start a no-op: exactly once rests on the key, the lease only keeps
the work in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from orchestrator.db.base import utcnow
from orchestrator.db.session import Database, release
from orchestrator.models.triggers import Trigger, TriggerEvent
from orchestrator.runtime.hub import AgentHub
from orchestrator.services.artifact_store import ArtifactStore
from orchestrator.triggers._bus import EventBus
from orchestrator.triggers._fire import Firer, TriggerSpec, note_error
from orchestrator.triggers._news_sweep import NewsSweep
from orchestrator.triggers._registry import source_class, source_kinds
from orchestrator.triggers._schedule_task import ScheduleTask
from orchestrator.triggers._source_task import run_source

log = logging.getLogger("rpa.orchestrator.triggers")


class Clock:
    """Time as the runner sees it; tests give one whose `now` they move."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class _Running:
    spec: TriggerSpec
    fingerprint: str
    stop: asyncio.Event
    task: asyncio.Task[None]


class TriggerRunner:
    """See the module docstring."""

    def __init__(
        self,
        db: Database,
        firer: Firer,
        *,
        secrets: Callable[[uuid.UUID], Any],
        hub: AgentHub | None = None,
        bus: EventBus | None = None,
        store: ArtifactStore | None = None,
        lease_s: float = 15.0,
        tick_s: float = 1.0,
        events_kept: int = 1000,
        clock: Clock | None = None,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.firer = firer
        self.secrets = secrets
        self.hub = hub
        self.bus = bus
        """The event bus: with it, chain and event triggers are leased too, to sweep the news the
        bus may have lost (`_news_sweep.py`)."""
        self.store = store
        self.lease_s = lease_s
        self.tick_s = tick_s
        self.events_kept = events_kept
        self.clock = clock or Clock()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[uuid.UUID, _Running] = {}
        self.statuses: dict[uuid.UUID, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._pruned = 0.0

    def kinds(self) -> list[str]:
        return ["schedule", *source_kinds(), *(("chain", "event") if self.bus is not None else ())]

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="trigger-runner")

    async def stop(self) -> None:
        # A flag rather than a cancellation: a cancellation that lands in a database call may be
        # absorbed by its clean-up, and the loop would go on.
        self._closing.set()
        if self._task is not None:
            await _finish(self._task, 5.0)
        await asyncio.gather(*(self._end(tid) for tid in list(self.running)), return_exceptions=True)
        with contextlib.suppress(Exception):  # a database gone at shutdown: the leases expire anyway
            async with self.db.transaction() as session:
                await session.execute(
                    update(Trigger)
                    .where(Trigger.lease_owner == self.owner)
                    .values(lease_owner=None, lease_expires_at=None, next_fire_at=None)
                )

    async def _loop(self) -> None:
        while not self._closing.is_set():
            try:
                await self.tick()
            except Exception:  # a database hiccup: the leases outlive a few missed ticks
                log.exception("the trigger runner's pass failed; trying again in %.1f s", self.tick_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.tick_s)

    async def tick(self) -> None:
        """Renew and take leases, start and stop tasks, write statuses, prune old events."""
        owned = await self._lease()
        for trigger_id in [t for t in self.running if t not in owned]:
            await self._end(trigger_id)
        for trigger_id, (spec, fingerprint) in owned.items():
            current = self.running.get(trigger_id)
            if current is not None and current.fingerprint == fingerprint and not current.task.done():
                continue
            if current is not None:
                await self._end(trigger_id)
            self._begin(spec, fingerprint)
        await self._write_statuses()
        if time.monotonic() - self._pruned > 60:
            self._pruned = time.monotonic()
            await self.prune()

    async def _lease(self) -> dict[uuid.UUID, tuple[TriggerSpec, str]]:
        now = utcnow()
        takeable = or_(Trigger.lease_owner == self.owner, Trigger.lease_owner.is_(None), Trigger.lease_expires_at < now)
        wanted = (Trigger.enabled.is_(True), Trigger.kind.in_(self.kinds()))
        session = self.db.sessions()
        try:  # a read first: with nothing to run, a process writes nothing
            ids = list(await session.scalars(select(Trigger.id).where(*wanted, takeable)))
        finally:
            await release(session)
        if not ids:
            return {}
        async with self.db.transaction() as session:
            await session.execute(
                update(Trigger)
                .where(Trigger.id.in_(ids), *wanted, takeable)
                .values(lease_owner=self.owner, lease_expires_at=now + timedelta(seconds=self.lease_s))
                .execution_options(synchronize_session=False)
            )
            rows = await session.scalars(select(Trigger).where(Trigger.lease_owner == self.owner, *wanted))
            specs = [TriggerSpec.of(row) for row in rows]
            return {spec.id: (spec, spec.fingerprint) for spec in specs}

    def _begin(self, spec: TriggerSpec, fingerprint: str) -> None:
        stop = asyncio.Event()
        if spec.kind == "schedule":
            coro = ScheduleTask(self, spec, stop).run()
        elif spec.kind in ("chain", "event"):
            assert self.bus is not None  # leased only with a bus
            coro = NewsSweep(self, self.bus, spec, stop).run()
        else:
            cls = source_class(spec.kind)
            assert cls is not None  # leased only for registered kinds
            coro = run_source(self, spec, cls, stop)
        task = asyncio.create_task(coro, name=f"trigger-{spec.id}")
        self.running[spec.id] = _Running(spec, fingerprint, stop, task)

    async def _end(self, trigger_id: uuid.UUID) -> None:
        running = self.running.pop(trigger_id, None)
        if running is None:
            return
        running.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(running.task), 2.0)
        except (TimeoutError, asyncio.CancelledError):
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running.task
        except Exception:
            pass

    # -- what tasks use ----------------------------------------------------------------------------

    def status(self, trigger_id: uuid.UUID, text: str) -> None:
        self.statuses[trigger_id] = text[:200]

    async def _write_statuses(self) -> None:
        if not self.statuses:
            return
        pending, self.statuses = self.statuses, {}
        async with self.db.transaction() as session:
            for trigger_id, text in pending.items():
                await session.execute(
                    update(Trigger)
                    .where(Trigger.id == trigger_id, Trigger.lease_owner == self.owner)
                    .values(status=text)
                )

    async def holds(self, trigger_id: uuid.UUID) -> bool:
        """Whether this process still holds the trigger's lease."""
        session = self.db.sessions()
        try:
            owner = await session.scalar(select(Trigger.lease_owner).where(Trigger.id == trigger_id))
        finally:
            await release(session)
        return owner == self.owner

    async def load_cursor(self, trigger_id: uuid.UUID) -> dict[str, Any]:
        session = self.db.sessions()
        try:
            value = await session.scalar(select(Trigger.cursor).where(Trigger.id == trigger_id))
        finally:
            await release(session)
        return dict(value or {})

    async def save_cursor(self, trigger_id: uuid.UUID, state: dict[str, Any], **values: Any) -> bool:
        """Store the cursor (and other columns) while the lease is this process's; False otherwise."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Trigger)
                .where(Trigger.id == trigger_id, Trigger.lease_owner == self.owner)
                .values(cursor=state, **values)
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(result, "rowcount", 1))

    async def error(self, trigger_id: uuid.UUID, message: str) -> None:
        async with self.db.transaction() as session:
            await note_error(session, trigger_id, message)

    async def prune(self) -> None:
        """Keep the newest `events_kept` events of each trigger."""
        session = self.db.sessions()
        try:
            over = list(
                await session.execute(
                    select(TriggerEvent.trigger_id)
                    .group_by(TriggerEvent.trigger_id)
                    .having(func.count() > self.events_kept)
                )
            )
        finally:
            await release(session)
        for (trigger_id,) in over:
            async with self.db.transaction() as session:
                cutoff = await session.scalar(
                    select(TriggerEvent.received_at)
                    .where(TriggerEvent.trigger_id == trigger_id)
                    .order_by(TriggerEvent.received_at.desc())
                    .offset(self.events_kept - 1)
                    .limit(1)
                )
                if cutoff is not None:
                    await session.execute(
                        delete(TriggerEvent).where(
                            and_(TriggerEvent.trigger_id == trigger_id, TriggerEvent.received_at < cutoff)
                        )
                    )


async def _finish(task: asyncio.Task[None], within_s: float) -> None:
    """Wait for a task told to stop; cancel it if it does not within `within_s`, and never wait
    for more than twice that (a cancellation a clean-up absorbed is not waited for forever)."""
    done, _ = await asyncio.wait({task}, timeout=within_s)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=within_s)
    if done and not task.cancelled() and task.exception() is not None:
        log.warning("a trigger task ended with %r", task.exception())
