"""The task that runs one leased schedule trigger: catch up, then fire each due time.

The cursor keeps `last_due` (the latest due time handled) and `buffered` (a due time held back
by the `buffer_one` overlap policy until the running execution ends). A due time's ISO text is
its event key.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from orchestrator.db.session import release
from orchestrator.errors import ApiError
from orchestrator.models.executions import Execution
from orchestrator.services.execution_states import TERMINAL
from orchestrator.services.executions import cancel_execution, get_execution
from orchestrator.triggers._fire import Fired, TriggerSpec
from orchestrator.triggers._kinds import ScheduleConfig
from orchestrator.triggers._schedule import Schedule
from shared.protocol import JobCancel

if TYPE_CHECKING:
    from orchestrator.triggers._runner import TriggerRunner

_KEEP: set[asyncio.Task[Any]] = set()


class ScheduleTask:
    def __init__(self, runner: TriggerRunner, spec: TriggerSpec, stop: asyncio.Event) -> None:
        self.runner = runner
        self.spec = spec
        self.stop = stop
        self.config = ScheduleConfig.model_validate(spec.config)
        self.schedule = Schedule(self.config)

    @property
    def now(self) -> datetime:
        return self.runner.clock.now()

    async def run(self) -> None:
        cursor = await self.runner.load_cursor(self.spec.id)
        last: datetime = _parse(cursor.get("last_due")) or self.spec.created_at or self.now
        now = self.now
        for due in self.schedule.catch_up(last, now):
            await self.fire_due(due, cursor)
        last = max(last, now)
        cursor["last_due"] = last.isoformat()
        await self.runner.save_cursor(self.spec.id, cursor)
        while not self.stop.is_set():
            upcoming = self.schedule.next_after(last)
            if upcoming is None:
                self.runner.status(self.spec.id, "never due: the calendars exclude every day")
                await self.stop.wait()
                return
            due = upcoming
            await self.runner.save_cursor(self.spec.id, cursor, next_fire_at=due)
            self.runner.status(self.spec.id, f"next at {due.isoformat()}")
            fire_at = due.timestamp() + self.schedule.jitter(str(self.spec.id), due)
            if not await self._sleep_until(fire_at, cursor):
                return
            await self.fire_due(due, cursor)
            last = due
            cursor["last_due"] = due.isoformat()
            await self.runner.save_cursor(self.spec.id, cursor)

    async def _sleep_until(self, at: float, cursor: dict[str, Any]) -> bool:
        """Wait until `at` (epoch seconds); False when stopped. Meanwhile a buffered due time is
        fired once nothing of this trigger runs any more."""
        while not self.stop.is_set():
            left = at - self.now.timestamp()
            if left <= 0:
                return True
            if cursor.get("buffered") and not await self.running():
                buffered = cursor.pop("buffered")
                await self.fire(_parse(buffered) or self.now)
                await self.runner.save_cursor(self.spec.id, cursor)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), min(left, self.runner.tick_s))
        return False

    async def fire_due(self, due: datetime, cursor: dict[str, Any]) -> Fired | None:
        """Fire `due` by the overlap policy."""
        policy = self.config.overlap
        running = await self.running() if policy != "allow" else []
        key = due.isoformat()
        if running and policy == "skip":
            return await self.runner.firer.record(
                self.spec, key, "filtered", error="skipped: the last execution still runs (overlap: skip)"
            )
        if running and policy == "buffer_one":
            cursor["buffered"] = key  # a later due time replaces an earlier one: one is kept
            return None
        if running and policy == "cancel_running":
            await self._cancel(running)
        return await self.fire(due)

    async def fire(self, due: datetime) -> Fired:
        payload = {"due": due.isoformat(), "fired_at": self.now.isoformat(), "trigger_id": str(self.spec.id)}
        return await self.runner.firer.fire(self.spec, due.isoformat(), payload)

    async def running(self) -> list[uuid.UUID]:
        """This trigger's executions that have not ended."""
        session = self.runner.db.sessions()
        try:
            rows = await session.execute(
                select(Execution.id, Execution.trigger).where(
                    Execution.org_id == self.spec.org_id,
                    Execution.workflow_id == self.spec.workflow_id,
                    Execution.trigger_type == "schedule",
                    Execution.state.not_in([s.value for s in TERMINAL]),
                )
            )
            mine = str(self.spec.id)
            return [row.id for row in rows if (row.trigger or {}).get("trigger_id") == mine]
        finally:
            await release(session)

    async def _cancel(self, ids: list[uuid.UUID]) -> None:
        for execution_id in ids:
            try:
                async with self.runner.db.transaction() as session:
                    execution = await get_execution(session, self.spec.org_id, execution_id, for_update=True)
                    await cancel_execution(
                        session, execution, actor=self.spec.actor, reason="a newer due time replaces it (overlap)"
                    )
            except ApiError:  # ended meanwhile
                continue
            link = self.runner.hub.holder_of(execution_id) if self.runner.hub is not None else None
            if link is not None:
                message = JobCancel(execution_id=str(execution_id), force=False, reason="replaced by a newer run")
                task = asyncio.create_task(link.send(message))
                _KEEP.add(task)
                task.add_done_callback(_KEEP.discard)


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
