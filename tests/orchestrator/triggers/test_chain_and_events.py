"""Chains (A ends → B starts with A's outputs, once per A execution; cycles refused) and the event
bus (published events with filters; the orchestrator's own execution events)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from orchestrator.services.execution_states import State
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.test_dispatch import FakeAgent
from tests.orchestrator.triggers._helpers import API, create, eventually, executions_of, finish, show, workflow


async def test_a_chain_starts_b_once_with_a_s_outputs_when_a_succeeds(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    a, b = await workflow(app, owner.org_id, "A"), await workflow(app, owner.org_id, "B")
    await create(
        client,
        owner.headers,
        b,
        "chain",
        config={"after_workflow": str(a), "statuses": ["succeeded"]},
        inputs={"customer": "{{ event.outputs.customer }}"},
    )
    first = await create(client, owner.headers, a, "webhook")
    started = await client.post(first["url"], json={"customer": "ACME"})
    upstream = started.json()["execution_id"]
    await finish(app, owner.org_id, upstream, State.SUCCEEDED, outputs={"customer": "From A"})
    [chained] = await eventually(lambda: executions_of(app, owner.org_id, b))
    assert chained.inputs["customer"] == "From A"
    assert chained.trigger_type == "chain"
    assert chained.trigger["key"] == upstream

    failed = (await client.post(first["url"], json={"customer": "X"})).json()["execution_id"]
    await finish(app, owner.org_id, failed, State.FAILED)
    await asyncio.sleep(0.3)
    assert len(await executions_of(app, owner.org_id, b)) == 1  # only success chains here


async def test_a_chain_that_would_close_a_cycle_is_refused(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    a = await workflow(app, owner.org_id, "Wa")
    b = await workflow(app, owner.org_id, "Wb")
    c = await workflow(app, owner.org_id, "Wc")
    await create(client, owner.headers, b, "chain", config={"after_workflow": str(a)})
    await create(client, owner.headers, c, "chain", config={"after_workflow": str(b)})
    refused = await client.post(
        f"{API}/workflows/{a}/triggers",
        json={"name": "loop", "kind": "chain", "config": {"after_workflow": str(c)}},
        headers=owner.headers,
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "chain_cycle"
    assert "Wa → Wc" not in error["message"]
    assert "Wc → Wa → Wb → Wc" in error["message"]
    assert error["details"][0]["location"] == "body.config.after_workflow"
    itself = await client.post(
        f"{API}/workflows/{a}/triggers",
        json={"name": "self", "kind": "chain", "config": {"after_workflow": str(a)}},
        headers=owner.headers,
    )
    assert itself.status_code == 422


async def test_a_published_event_starts_subscribers_whose_filter_passes_once_per_id(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    big = await create(
        client,
        owner.headers,
        workflow_id,
        "event",
        config={"name": "invoice.received", "filter": "event.payload.amount > 100"},
        inputs={"customer": "{{ event.payload.customer }}"},
    )

    async def publish(amount: int, event_id: str) -> httpx.Response:
        body = {"name": "invoice.received", "id": event_id, "payload": {"amount": amount, "customer": f"C{amount}"}}
        return await client.post(f"{API}/events", json=body, headers=owner.headers)

    assert (await publish(500, "e1")).json()["triggers"][0]["outcome"] == "started"
    assert (await publish(500, "e1")).json()["triggers"][0]["outcome"] == "started"  # the same, not again
    assert (await publish(5, "e2")).json()["triggers"][0]["outcome"] == "filtered"
    other = await client.post(f"{API}/events", json={"name": "something.else"}, headers=owner.headers)
    assert other.status_code == 202
    assert other.json()["triggers"] == []
    [execution] = await executions_of(app, owner.org_id, workflow_id)
    assert execution.inputs["customer"] == "C500"
    assert execution.trigger_type == "event"
    outcomes = sorted(e["outcome"] for e in (await show(client, owner.headers, big["id"]))["events"])
    assert outcomes == ["filtered", "started"]
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    assert (await client.post(f"{API}/events", json={"name": "x"}, headers=viewer.headers)).status_code == 403


async def test_a_failed_execution_starts_the_subscriber_of_execution_failed(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    watched, handler = await workflow(app, owner.org_id, "Watched"), await workflow(app, owner.org_id, "Handler")
    await create(
        client,
        owner.headers,
        handler,
        "event",
        config={"name": "execution.failed", "filter": f"event.payload.workflow_id == '{watched}'"},
        inputs={"customer": "{{ event.payload.workflow_name }}"},
    )
    hook = await create(client, owner.headers, watched, "webhook")
    execution_id = (await client.post(hook["url"], json={"customer": "A"})).json()["execution_id"]
    await finish(app, owner.org_id, execution_id, State.FAILED)
    [reaction] = await eventually(lambda: executions_of(app, owner.org_id, handler))
    assert reaction.inputs["customer"] == "Watched"
    assert reaction.trigger["key"] == f"execution.failed:{execution_id}:failed"


async def test_an_agent_coming_online_and_going_offline_are_bus_events(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    online, offline = await workflow(app, owner.org_id, "Online"), await workflow(app, owner.org_id, "Offline")
    inputs = {"customer": "{{ event.payload.name }}"}
    await create(client, owner.headers, online, "event", config={"name": "agent.online"}, inputs=inputs)
    await create(client, owner.headers, offline, "event", config={"name": "agent.offline"}, inputs=inputs)
    agent = FakeAgent(app, owner.org_id, "robot-7", beating=False).connect()
    [came] = await eventually(lambda: executions_of(app, owner.org_id, online))
    assert came.inputs["customer"] == "robot-7"
    agent.gone()
    [went] = await eventually(lambda: executions_of(app, owner.org_id, offline))
    assert went.inputs["customer"] == "robot-7"
