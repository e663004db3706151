"""Execution news made durable (`triggers/_news_sweep.py`): a chain or `execution.*` event whose
news the in-memory bus never fired (the process died after the commit) is fired from the stored
transitions by the trigger's lease holder, once; with both paths live, still once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from orchestrator.services import execution_states
from orchestrator.services.execution_states import State
from orchestrator.triggers import EventBus
from orchestrator.triggers._fire import TriggerSpec
from orchestrator.triggers._news_sweep import id_floor, listened_states
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.triggers._helpers import create, eventually, executions_of, finish, show, workflow


def _spec(kind: str, **config: object) -> TriggerSpec:
    return TriggerSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), kind, "t", dict(config), {}, None)


def test_the_states_a_trigger_listens_for() -> None:
    assert listened_states(_spec("chain", statuses=["succeeded", "failed"])) == ("succeeded", "failed")
    assert listened_states(_spec("event", name="execution.started")) == ("running",)
    assert listened_states(_spec("event", name="execution.timed_out")) == ("timed_out",)
    assert listened_states(_spec("event", name="agent.offline")) == ()
    assert listened_states(_spec("event", name="invoice.paid")) == ()


def test_an_id_floor_sorts_between_the_ids_made_before_and_after_it() -> None:
    from orchestrator.db.base import new_id

    before = new_id()
    floor = id_floor(datetime.now(UTC) + timedelta(milliseconds=5))
    assert before < floor
    assert str(before) < str(floor)  # SQLite keeps them as text
    assert id_floor(datetime.now(UTC) + timedelta(seconds=1)) > floor


async def test_news_the_bus_never_fired_is_fired_from_the_transitions_once(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    a, b = await workflow(app, owner.org_id, "A"), await workflow(app, owner.org_id, "B")
    chain = await create(
        client,
        owner.headers,
        b,
        "chain",
        config={"after_workflow": str(a), "statuses": ["failed"]},
        inputs={"customer": "{{ event.execution_id }}"},
    )
    watcher = await create(
        client,
        owner.headers,
        b,
        "event",
        config={"name": "execution.failed", "filter": f"event.payload.workflow_id == '{a}'"},
        inputs={"customer": "seen {{ event.payload.execution_id }}"},
    )
    hook = await create(client, owner.headers, a, "webhook")
    bus: EventBus = app.state.trigger_bus
    # The process "dies" between the commit and the firing: the bus hears nothing.
    execution_states.LISTENERS.remove(bus.announce)
    try:
        lost = [(await client.post(hook["url"], json={"customer": f"c{n}"})).json()["execution_id"] for n in range(3)]
        for execution_id in lost:
            await finish(app, owner.org_id, execution_id, State.FAILED)
    finally:
        execution_states.LISTENERS.append(bus.announce)
    # With the bus listening again, both paths race for the next one.
    raced = (await client.post(hook["url"], json={"customer": "raced"})).json()["execution_id"]
    await finish(app, owner.org_id, raced, State.FAILED)

    ended = {*lost, raced}
    wanted = ended | {f"seen {e}" for e in ended}

    async def started() -> list[str] | None:
        inputs = [e.inputs["customer"] for e in await executions_of(app, owner.org_id, b)]
        return inputs if set(inputs) >= wanted else None

    await eventually(started, within=15)
    await asyncio.sleep(1.5)  # another sweep: a double would be stored by now
    inputs = [e.inputs["customer"] for e in await executions_of(app, owner.org_id, b)]
    assert sorted(inputs) == sorted(wanted)
    state = await show(client, owner.headers, chain["id"])
    assert state["state"]["running_in"] is not None  # leased: its sweep runs in one process
    assert state["state"]["fire_count"] == 4
    assert (await show(client, owner.headers, watcher["id"]))["state"]["fire_count"] == 4


async def test_a_new_chain_starts_nothing_for_what_ended_before_it_existed(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    a, b = await workflow(app, owner.org_id, "A"), await workflow(app, owner.org_id, "B")
    hook = await create(client, owner.headers, a, "webhook")
    old = (await client.post(hook["url"], json={"customer": "old"})).json()["execution_id"]
    await finish(app, owner.org_id, old, State.SUCCEEDED)
    await asyncio.sleep(0.01)
    await create(client, owner.headers, b, "chain", config={"after_workflow": str(a)})
    await asyncio.sleep(2.5)  # two sweeps
    assert await executions_of(app, owner.org_id, b) == []
