"""Schedule triggers run by the app's trigger runner: each due time starts one execution (its key
is the due time), overlap policies, catch-up at start, pause; a controllable clock, and one run
on the real clock."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from orchestrator.models.triggers import Trigger
from orchestrator.services.execution_states import State
from orchestrator.triggers import Clock
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.triggers._helpers import API, create, eventually, executions_of, finish, show, workflow


class FakeClock(Clock):
    """A clock the test moves; the runner still sleeps in short real ticks."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    # The next whole minute of the real clock: the trigger's creation time is real, and its first
    # due time is that minute. Too near the minute's end, the test's trigger (made a moment later,
    # seconds later on a loaded PostgreSQL run) would be created in the next minute and fall due a
    # minute later than the test expects: wait for the minute to turn first.
    now = datetime.now(UTC)
    if now.second >= 45:
        time.sleep(60.5 - now.second - now.microsecond / 1e6)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    fake = FakeClock(start)
    app.state.trigger_runner.clock = fake
    return fake


async def _schedule(
    client: httpx.AsyncClient, owner: Any, workflow_id: uuid.UUID, enabled: bool = True, **config: Any
) -> dict[str, Any]:
    return await create(
        client, owner.headers, workflow_id, "schedule", config={"every_s": 60, **config}, enabled=enabled
    )


async def _outcomes(client: httpx.AsyncClient, owner: Any, trigger_id: str) -> list[tuple[str, str]]:
    shown = await show(client, owner.headers, trigger_id)
    return sorted((e["key"], e["outcome"]) for e in shown["events"])


async def test_each_due_time_starts_one_execution_keyed_by_the_due_time(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, clock: FakeClock
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await _schedule(client, owner, workflow_id, overlap="allow", catch_up="none")
    assert (
        trigger["next_fire_times"][:2]
        == [
            (clock.moment + timedelta(seconds=0)).isoformat().replace("+00:00", "Z"),
            (clock.moment + timedelta(seconds=60)).isoformat().replace("+00:00", "Z"),
        ]
        or len(trigger["next_fire_times"]) == 5
    )
    await eventually(lambda: _running(app, trigger["id"]))
    for step in range(3):
        clock.advance(60)
        await eventually(lambda n=step: _count(app, owner.org_id, workflow_id, n + 1))
    executions = await executions_of(app, owner.org_id, workflow_id)
    keys = [e.trigger["key"] for e in executions]
    assert len(set(keys)) == 3
    assert all(datetime.fromisoformat(k).second == 0 for k in keys)
    assert {e.trigger_type for e in executions} == {"schedule"}
    state = await show(client, owner.headers, trigger["id"])
    assert state["state"]["fire_count"] == 3
    assert state["state"]["next_fire_at"] is not None
    assert state["state"]["running_in"] == app.state.trigger_runner.owner


async def _running(app: FastAPI, trigger_id: str) -> bool:
    """The trigger's task runs and has read the clock: its next due time is stored (a test that
    moved the clock before that, on a loaded machine, saw the task start from the moved time)."""
    if uuid.UUID(trigger_id) not in app.state.trigger_runner.running:
        return False
    async with app.state.db.transaction() as session:
        due = await session.scalar(select(Trigger.next_fire_at).where(Trigger.id == uuid.UUID(trigger_id)))
    return due is not None


async def _count(app: FastAPI, org_id: uuid.UUID, workflow_id: uuid.UUID, n: int) -> bool:
    return len(await executions_of(app, org_id, workflow_id)) >= n


async def _two_due_times(
    app: FastAPI, client: httpx.AsyncClient, owner: Any, clock: FakeClock, overlap: str
) -> tuple[dict[str, Any], uuid.UUID]:
    """A schedule whose first execution still runs (no agent) when the second falls due."""
    workflow_id = await workflow(app, owner.org_id)
    trigger = await _schedule(client, owner, workflow_id, overlap=overlap, catch_up="none")
    await eventually(lambda: _running(app, trigger["id"]))
    clock.advance(60)
    await eventually(lambda: _count(app, owner.org_id, workflow_id, 1))
    clock.advance(60)
    await eventually(lambda: _events(client, owner, trigger["id"], 2 if overlap != "buffer_one" else 1))
    return trigger, workflow_id


async def _events(client: httpx.AsyncClient, owner: Any, trigger_id: str, n: int) -> bool:
    return len((await show(client, owner.headers, trigger_id))["events"]) >= n


async def test_overlap_skip_records_the_due_time_as_filtered(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, clock: FakeClock
) -> None:
    owner = await tenant()
    trigger, workflow_id = await _two_due_times(app, client, owner, clock, "skip")
    assert [o for _, o in await _outcomes(client, owner, trigger["id"])] == ["started", "filtered"]
    assert len(await executions_of(app, owner.org_id, workflow_id)) == 1


async def test_overlap_allow_starts_both(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, clock: FakeClock
) -> None:
    owner = await tenant()
    trigger, workflow_id = await _two_due_times(app, client, owner, clock, "allow")
    assert [o for _, o in await _outcomes(client, owner, trigger["id"])] == ["started", "started"]
    assert [e.state for e in await executions_of(app, owner.org_id, workflow_id)] == ["queued", "queued"]


async def test_overlap_cancel_running_cancels_the_first_and_starts_the_second(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, clock: FakeClock
) -> None:
    owner = await tenant()
    _, workflow_id = await _two_due_times(app, client, owner, clock, "cancel_running")
    assert [e.state for e in await executions_of(app, owner.org_id, workflow_id)] == ["cancelled", "queued"]


async def test_overlap_buffer_one_starts_the_held_due_time_when_the_first_ends(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, clock: FakeClock
) -> None:
    owner = await tenant()
    trigger, workflow_id = await _two_due_times(app, client, owner, clock, "buffer_one")
    clock.advance(10)  # no new due time; the second is held
    assert len(await executions_of(app, owner.org_id, workflow_id)) == 1
    [first] = await executions_of(app, owner.org_id, workflow_id)
    await finish(app, owner.org_id, first.id, State.SUCCEEDED)
    await eventually(lambda: _count(app, owner.org_id, workflow_id, 2))
    assert [o for _, o in await _outcomes(client, owner, trigger["id"])] == ["started", "started"]


async def test_a_runner_taking_over_catches_up_by_the_policy(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, clock: FakeClock
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await _schedule(
        client, owner, workflow_id, overlap="allow", catch_up="all", catch_up_window_s=300, enabled=False
    )
    # As if the last due time handled was ten minutes ago and no process ran the trigger since.
    async with app.state.db.transaction() as session:
        await session.execute(
            update(Trigger)
            .where(Trigger.id == uuid.UUID(trigger["id"]))
            .values(cursor={"last_due": (clock.moment - timedelta(minutes=10)).isoformat()}, enabled=True)
        )
    await eventually(lambda: _count(app, owner.org_id, workflow_id, 5))
    clock.advance(1)
    keys = sorted(e.trigger["key"] for e in await executions_of(app, owner.org_id, workflow_id))
    assert len(keys) in (5, 6)  # the due times of the last five minutes (and now, if it is one)
    assert datetime.fromisoformat(keys[0]) >= clock.moment - timedelta(seconds=301)


async def test_a_paused_schedule_fires_nothing_and_shows_no_next_time(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, clock: FakeClock
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await _schedule(client, owner, workflow_id)
    await eventually(lambda: _running(app, trigger["id"]))
    paused = await client.post(f"{API}/triggers/{trigger['id']}/pause", headers=owner.headers)
    assert paused.json()["state"]["next_fire_at"] is None
    await eventually(lambda: _stopped(app, trigger["id"]))
    before = len(await executions_of(app, owner.org_id, workflow_id))
    clock.advance(180)
    await asyncio.sleep(0.3)  # several runner ticks
    assert len(await executions_of(app, owner.org_id, workflow_id)) == before
    assert (await show(client, owner.headers, trigger["id"]))["next_fire_times"] == []


async def _stopped(app: FastAPI, trigger_id: str) -> bool:
    return uuid.UUID(trigger_id) not in app.state.trigger_runner.running


async def test_on_the_real_clock_each_second_starts_one_execution(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    await create(client, owner.headers, workflow_id, "schedule", config={"every_s": 1, "overlap": "allow"})
    await eventually(lambda: _count(app, owner.org_id, workflow_id, 2), within=10)
    executions = await executions_of(app, owner.org_id, workflow_id)
    dues = [datetime.fromisoformat(e.trigger["key"]) for e in executions]
    assert len(set(dues)) == len(dues)
    assert all(d.microsecond == 0 for d in dues)
    # Queued after its due time, never before it.
    assert all(e.created_at >= d for e, d in zip(executions, dues, strict=True))
