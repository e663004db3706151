"""The task that makes execution news durable for one leased chain or `execution.*` event trigger.

The bus hears of an execution's start or end after the commit of the move (`_bus.py`) and fires
chains and `execution.*` events from an in-memory queue: fast, but news committed by a process
that dies before firing it (SIGKILL, a crash, a lost machine) would be lost. The move itself is
durable, though: it is a row of `execution_transitions`, written in the same transaction as the
state, with a version 7 id that grows with time. That table is the outbox; this task consumes it
with the trigger's lease (`_runner.py`) and its cursor:

- every `SWEEP_S` it reads the transitions to the states the trigger listens for, with ids from
  `MARGIN_S` before the cursor (a transaction commits a little after its id was made) to
  `GRACE_S` ago (the newest are left to the in-memory path, which fires them sooner), of the
  workflow the chain follows (every workflow for an event trigger), and never from before the
  trigger was made: what ended before it existed starts nothing;
- keys already in the trigger's events are skipped; the others are fired as the bus would have
  fired them (same key, same payload), so whichever path comes first stores the one execution
  and the other finds its key taken;
- the cursor (`news_after`, a time) then moves to the end of what was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from orchestrator.db.session import release
from orchestrator.models.executions import Execution, ExecutionTransition
from orchestrator.models.triggers import TriggerEvent
from orchestrator.triggers._bus import news_name, news_payload
from orchestrator.triggers._fire import TriggerSpec
from shared.states import TERMINAL_STATES

if TYPE_CHECKING:
    from orchestrator.triggers._bus import EventBus
    from orchestrator.triggers._runner import TriggerRunner

SWEEP_S = 1.0
MARGIN_S = 30.0
GRACE_S = 1.0
PAGE = 500


def listened_states(spec: TriggerSpec) -> tuple[str, ...]:
    """The execution states whose news the trigger acts on (none: nothing to sweep)."""
    if spec.kind == "chain":
        return tuple(str(state) for state in spec.config.get("statuses", ()))
    name = str(spec.config.get("name", ""))
    if name == "execution.started":
        return ("running",)
    state = name.removeprefix("execution.")
    return (state,) if name.startswith("execution.") and state in TERMINAL_STATES else ()


def id_floor(at: datetime) -> uuid.UUID:
    """The smallest version 7 id made at `at` or later."""
    return uuid.UUID(int=int(at.timestamp() * 1000) << 80)


class NewsSweep:
    """See the module docstring."""

    def __init__(self, runner: TriggerRunner, bus: EventBus, spec: TriggerSpec, stop: asyncio.Event) -> None:
        self.runner = runner
        self.bus = bus
        self.spec = spec
        self.stop = stop
        self.states = listened_states(spec)

    async def run(self) -> None:
        if not self.states:  # an event of the API or of agents: fired when published, nothing kept
            await self.stop.wait()
            return
        cursor = await self.runner.load_cursor(self.spec.id)
        born = _aware(self.spec.created_at or self.runner.clock.now())
        after = _aware(_parse(cursor.get("news_after")) or born)
        self.runner.status(self.spec.id, "following execution news")
        while not self.stop.is_set():
            until = _aware(self.runner.clock.now()) - timedelta(seconds=GRACE_S)
            if until > after:
                await self.sweep(max(after - timedelta(seconds=MARGIN_S), born), until)
                after = until
                if not await self.runner.save_cursor(self.spec.id, {**cursor, "news_after": after.isoformat()}):
                    return  # the lease went to another process, which goes on from the cursor
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), SWEEP_S)

    async def sweep(self, since: datetime, until: datetime) -> int:
        """Fire what moved to a listened state between `since` and `until` and was not fired yet;
        returns how many were fired here."""
        fired = 0
        low, high = id_floor(since), id_floor(until)
        while True:
            moves = await self._moves(low, high)
            fresh = await self._unseen(moves)
            if fresh:
                fired += await self._fire(fresh)
            if len(moves) < PAGE:
                return fired
            low = moves[-1][0]

    async def _moves(self, low: uuid.UUID, high: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
        """(transition id, execution id, state) in id order, at most `PAGE`."""
        query = (
            select(ExecutionTransition.id, ExecutionTransition.execution_id, ExecutionTransition.to_state)
            .where(
                ExecutionTransition.org_id == self.spec.org_id,
                ExecutionTransition.id > low,
                ExecutionTransition.id < high,
                ExecutionTransition.to_state.in_(self.states),
            )
            .order_by(ExecutionTransition.id)
            .limit(PAGE)
        )
        if self.spec.kind == "chain":
            upstream = uuid.UUID(str(self.spec.config.get("after_workflow")))
            query = query.join(Execution, Execution.id == ExecutionTransition.execution_id).where(
                Execution.workflow_id == upstream
            )
        session = self.runner.db.sessions()
        try:
            return [(row.id, row.execution_id, row.to_state) for row in await session.execute(query)]
        finally:
            await release(session)

    def _key(self, execution_id: uuid.UUID, state: str) -> str:
        if self.spec.kind == "chain":
            return str(execution_id)
        return f"{news_name(state)}:{execution_id}:{state}"

    async def _unseen(self, moves: list[tuple[uuid.UUID, uuid.UUID, str]]) -> list[tuple[uuid.UUID, str]]:
        wanted = {self._key(execution_id, state): (execution_id, state) for _, execution_id, state in moves}
        if not wanted:
            return []
        session = self.runner.db.sessions()
        try:
            seen = set(
                await session.scalars(
                    select(TriggerEvent.key).where(
                        TriggerEvent.trigger_id == self.spec.id, TriggerEvent.key.in_(list(wanted))
                    )
                )
            )
        finally:
            await release(session)
        return [move for key, move in wanted.items() if key not in seen]

    async def _fire(self, fresh: list[tuple[uuid.UUID, str]]) -> int:
        executions = {e.id: e for e in await self.bus.executions([execution_id for execution_id, _ in fresh])}
        fired = 0
        for execution_id, state in fresh:
            execution = executions.get(execution_id)
            if execution is None:
                continue
            payload = news_payload(execution)
            if self.spec.kind == "chain":
                outcome = await self.runner.firer.fire(self.spec, str(execution_id), payload, source="chain")
            else:
                event = {"name": news_name(state), "id": f"{execution_id}:{state}", "payload": payload}
                outcome = await self.bus.deliver(self.spec, event)
            fired += int(outcome.new)
        return fired


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _aware(at: datetime) -> datetime:
    """`at` in UTC (SQLite gives stored times back without their zone)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
