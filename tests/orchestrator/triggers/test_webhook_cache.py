"""The webhook trigger a token names is kept a moment (`triggers/_hook_cache.py`): calls after the
first read no row, and a change of the trigger counts on the very next call; another process's
change counts once the copy is older than `read_cache_s`."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, update

from orchestrator.models.triggers import Trigger
from orchestrator.triggers import HookCache
from tests.orchestrator.conftest import Member, TenantFactory
from tests.orchestrator.triggers._helpers import API, create, executions_of, workflow

Hook = tuple[Member, uuid.UUID, dict[str, Any]]


@pytest.fixture
async def hook(app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory) -> Hook:
    """An owner, a workflow of theirs and a webhook trigger on it."""
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    return owner, workflow_id, await create(client, owner.headers, workflow_id, "webhook")


async def test_calls_after_the_first_read_the_kept_trigger(app: FastAPI, client: httpx.AsyncClient, hook: Hook) -> None:
    owner, workflow_id, trigger = hook
    cache: HookCache = app.state.hook_cache
    for n in range(3):
        assert (await client.post(trigger["url"], json={"customer": f"c{n}"})).status_code == 202
    assert cache.hits >= 2
    assert sorted(e.inputs["customer"] for e in await executions_of(app, owner.org_id, workflow_id)) == [
        "c0",
        "c1",
        "c2",
    ]


async def test_a_change_through_the_api_counts_on_the_next_call(
    app: FastAPI, client: httpx.AsyncClient, hook: Hook
) -> None:
    owner, workflow_id, trigger = hook
    url, path = trigger["url"], f"{API}/triggers/{trigger['id']}"
    assert (await client.post(url, json={"customer": "A"})).status_code == 202  # kept now

    assert (await client.post(f"{path}/pause", headers=owner.headers)).status_code == 200
    assert (await client.post(url, json={"customer": "A"})).status_code == 404
    assert (await client.post(f"{path}/resume", headers=owner.headers)).status_code == 200
    assert (await client.post(url, json={"customer": "A"})).status_code == 202

    changed = await client.patch(path, json={"inputs": {"customer": "fixed"}}, headers=owner.headers)
    assert changed.status_code == 200, changed.text
    assert (await client.post(url, json={"customer": "B"})).json()["outcome"] == "started"
    newest = (await executions_of(app, owner.org_id, workflow_id))[-1]
    assert newest.inputs["customer"] == "fixed"

    assert (await client.delete(path, headers=owner.headers)).status_code == 204
    assert (await client.post(url, json={"customer": "A"})).status_code == 404


async def test_another_processs_change_counts_once_the_copy_is_old(
    app: FastAPI, client: httpx.AsyncClient, hook: Hook
) -> None:
    trigger = hook[2]
    cache: HookCache = app.state.hook_cache
    cache.ttl_s = 0.2
    assert (await client.post(trigger["url"], json={"customer": "A"})).status_code == 202
    # As `rpa` or another replica would: a write this process's sessions never saw.
    async with app.state.db.engine.begin() as connection:
        await connection.execute(update(Trigger).where(Trigger.id == uuid.UUID(trigger["id"])).values(enabled=False))
    await asyncio.sleep(0.3)
    assert (await client.post(trigger["url"], json={"customer": "A"})).status_code == 404


async def test_a_token_the_route_refuses_is_still_the_routes_answer(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    too_long = await client.post(f"{API}/hooks/{'x' * 201}", json={})
    assert too_long.status_code == 422
    assert (await client.post(f"{API}/hooks/wh_unknown", json={})).json()["error"]["code"] == "not_found"
    assert (await client.get(f"{API}/hooks/wh_unknown")).status_code == 405


async def test_a_call_to_a_kept_trigger_another_process_deleted_is_a_404(
    app: FastAPI, client: httpx.AsyncClient, hook: Hook
) -> None:
    owner, workflow_id, trigger = hook
    assert (await client.post(trigger["url"], json={"customer": "A"})).status_code == 202
    async with app.state.db.engine.begin() as connection:  # deleted elsewhere: this process keeps its copy
        await connection.execute(delete(Trigger).where(Trigger.id == uuid.UUID(trigger["id"])))
    answer = await client.post(trigger["url"], json={"customer": "B"})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "not_found"
    assert [e.inputs["customer"] for e in await executions_of(app, owner.org_id, workflow_id)] == ["A"]
