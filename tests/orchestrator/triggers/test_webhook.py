"""Webhook triggers: one call, one execution; the checks refuse with the right status and the one
error body, count the refusal, and never say which check failed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.services.execution_states import UNKNOWN
from orchestrator.triggers import EventBus, Signature, sign
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.triggers._helpers import API, create, executions_of, finish, show, workflow

SECRET = "whsec-0123456789abcdef"


async def _signing_credential(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post(
        f"{API}/credentials",
        json={"name": "hook_key", "kind": "token", "value": {"token": SECRET}, "description": "webhook key"},
        headers=headers,
    )
    assert response.status_code == 201, response.text


async def test_a_call_starts_one_execution_with_inputs_mapped_from_the_body(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "webhook")
    assert trigger["url"].startswith(f"{API}/hooks/wh_")

    response = await client.post(trigger["url"], json={"customer": "ACME"})
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    [execution] = await executions_of(app, owner.org_id, workflow_id)
    assert str(execution.id) == execution_id
    assert execution.inputs == {"customer": "ACME", "count": 3}
    assert execution.trigger_type == "webhook"
    assert execution.trigger["trigger_id"] == trigger["id"]

    state = await show(client, owner.headers, trigger["id"])
    assert state["state"]["fire_count"] == 1
    assert state["state"]["last_fired_at"] is not None
    assert [(e["outcome"], e["execution_id"]) for e in state["events"]] == [("started", execution_id)]
    assert state["url"] is None  # the token is shown once


async def test_an_idempotency_key_repeat_returns_the_same_execution(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "webhook")
    headers = {"Idempotency-Key": "delivery-42"}
    answers = await asyncio.gather(
        *(client.post(trigger["url"], json={"customer": "ACME"}, headers=headers) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["execution_id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 4
    assert len(await executions_of(app, owner.org_id, workflow_id)) == 1
    assert (await show(client, owner.headers, trigger["id"]))["state"]["fire_count"] == 1


async def test_form_and_raw_bodies_reach_the_mapping(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    form = await create(client, owner.headers, workflow_id, "webhook", inputs={"customer": "{{ event.body.name }}"})
    raw = await create(client, owner.headers, workflow_id, "webhook", inputs={"customer": "{{ event.body }}"})
    assert (await client.post(form["url"], data={"name": "Form Co"})).status_code == 202
    assert (
        await client.post(raw["url"], content=b"Raw Ltd", headers={"Content-Type": "text/plain"})
    ).status_code == 202
    customers = sorted(e.inputs["customer"] for e in await executions_of(app, owner.org_id, workflow_id))
    assert customers == ["Form Co", "Raw Ltd"]


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    return body["error"]


async def test_refusals_have_their_status_the_one_body_and_are_counted(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    await _signing_credential(client, owner.headers)
    workflow_id = await workflow(app, owner.org_id)
    signature = {"style": "github", "secret": "hook_key"}
    trigger = await create(
        client, owner.headers, workflow_id, "webhook", config={"signature": signature, "max_body_bytes": 2048}
    )
    walled = await create(client, owner.headers, workflow_id, "webhook", config={"allow_ips": ["10.0.0.0/8"]})
    body = json.dumps({"customer": "ACME"}).encode()
    good = sign(Signature(**signature), SECRET.encode(), body)

    wrong_token = await client.post(f"{API}/hooks/wh_{'x' * 43}", content=body)
    unsigned = await client.post(trigger["url"], content=body)
    badly_signed = await client.post(
        trigger["url"], content=body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}
    )
    too_large = await client.post(trigger["url"], content=b"x" * 4096, headers={"X-Hub-Signature-256": good})
    elsewhere = await client.post(walled["url"], json={"customer": "ACME"})
    assert [r.status_code for r in (wrong_token, unsigned, badly_signed, too_large, elsewhere)] == [
        404,
        401,
        401,
        413,
        403,
    ]
    # The same words for a wrong token and a bad signature: the caller learns nothing.
    assert _error(wrong_token)["message"] == _error(unsigned)["message"] == _error(badly_signed)["message"]
    assert _error(too_large)["code"] == "too_large"
    assert _error(elsewhere)["code"] == "forbidden"
    assert await executions_of(app, owner.org_id, workflow_id) == []

    state = (await show(client, owner.headers, trigger["id"]))["state"]
    assert state["refused_count"] == 3
    assert state["fire_count"] == 0
    assert "max_body_bytes" in state["last_error"]
    assert state["last_error_at"] is not None
    assert (await show(client, owner.headers, walled["id"]))["state"]["refused_count"] == 1

    signed = await client.post(trigger["url"], content=body, headers={"X-Hub-Signature-256": good})
    assert signed.status_code == 202, signed.text


async def test_stripe_signatures_are_checked_with_their_timestamp_tolerance(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    await _signing_credential(client, owner.headers)
    workflow_id = await workflow(app, owner.org_id)
    signature = {"style": "stripe", "secret": "hook_key", "tolerance_s": 300}
    trigger = await create(client, owner.headers, workflow_id, "webhook", config={"signature": signature})
    body = json.dumps({"customer": "Stripe Co"}).encode()
    fresh = sign(Signature(**signature), SECRET.encode(), body)
    replayed = sign(Signature(**signature), SECRET.encode(), body, timestamp=int(time.time()) - 3600)
    other_key = sign(Signature(**signature), b"another key", body)

    assert (await client.post(trigger["url"], content=body, headers={"Stripe-Signature": replayed})).status_code == 401
    assert (await client.post(trigger["url"], content=body, headers={"Stripe-Signature": other_key})).status_code == 401
    accepted = await client.post(
        trigger["url"], content=body, headers={"Stripe-Signature": fresh, "Content-Type": "application/json"}
    )
    assert accepted.status_code == 202, accepted.text
    [execution] = await executions_of(app, owner.org_id, workflow_id)
    assert execution.inputs["customer"] == "Stripe Co"


async def test_wait_mode_answers_the_outputs_once_the_execution_ends(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "webhook", config={"respond": "wait", "wait_s": 10})
    quick = await create(client, owner.headers, workflow_id, "webhook", config={"respond": "wait", "wait_s": 0.2})

    key = {"Idempotency-Key": "order-1"}
    call = asyncio.create_task(client.post(trigger["url"], json={"customer": "ACME"}, headers=key))

    async def agent() -> None:  # an in-process agent: runs what is queued and reports outputs
        while True:
            queued = [e for e in await executions_of(app, owner.org_id, workflow_id) if e.state == "queued"]
            if queued:
                await finish(app, owner.org_id, queued[0].id, outputs={"total": 42})
                return
            await asyncio.sleep(0.02)

    await agent()
    answer = await call
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "succeeded"
    assert answer.json()["outputs"] == {"total": 42}
    # The same call again: its execution ended before the call; state and outputs come from the database.
    again = await client.post(trigger["url"], json={"customer": "ACME"}, headers=key)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.json()["execution_id"], again.json()["outputs"]) == (answer.json()["execution_id"], {"total": 42})

    late = await client.post(quick["url"], json={"customer": "Slow"})
    assert late.status_code == 202
    assert late.json()["execution_id"]


async def test_a_mapping_error_is_the_events_failed_outcome_with_its_path(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(
        client, owner.headers, workflow_id, "webhook", inputs={"customer": "{{ event.body.missing.deeper }}"}
    )
    response = await client.post(trigger["url"], json={"customer": "ACME"})
    assert response.status_code == 422
    assert _error(response)["code"] == "trigger_failed"
    state = await show(client, owner.headers, trigger["id"])
    [event] = state["events"]
    assert event["outcome"] == "failed"
    assert event["error"].startswith("inputs.customer:")
    assert state["state"]["last_error"].startswith("inputs.customer:")
    assert await executions_of(app, owner.org_id, workflow_id) == []


async def test_a_paused_or_rekeyed_hook_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "webhook")
    assert (await client.post(f"{API}/triggers/{trigger['id']}/pause", headers=owner.headers)).status_code == 200
    assert (await client.post(trigger["url"], json={"customer": "A"})).status_code == 404
    assert (await client.post(f"{API}/triggers/{trigger['id']}/resume", headers=owner.headers)).status_code == 200
    rekeyed = await client.post(f"{API}/triggers/{trigger['id']}/rekey", headers=owner.headers)
    assert rekeyed.status_code == 200
    assert (await client.post(trigger["url"], json={"customer": "A"})).status_code == 404
    assert (await client.post(rekeyed.json()["url"], json={"customer": "A"})).status_code == 202


async def test_a_wait_that_comes_after_the_end_is_answered_at_once(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short flow can end before the call that started it waits for it: the bus keeps the end."""
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    await create(client, owner.headers, workflow_id, "webhook")
    hook = await client.post(
        (await create(client, owner.headers, workflow_id, "webhook", config={"respond": "accepted"}))["url"],
        json={"customer": "ACME"},
    )
    execution_id = uuid.UUID(hook.json()["execution_id"])
    await finish(app, owner.org_id, execution_id, outputs={"total": 7})  # announced: nobody waits yet
    bus: EventBus = app.state.trigger_bus

    async def no_database(_execution_id: uuid.UUID) -> str | None:
        raise AssertionError("the end was looked for in the database")

    monkeypatch.setattr(bus, "_ended", no_database)
    ended = await bus.wait_for_end(execution_id, 10, new=True)
    assert ended is not None
    assert ended.state == "succeeded"
    # Its outputs were not kept (they can be large): the answer reads them.
    assert ended.outputs is UNKNOWN
