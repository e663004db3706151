"""The trigger API: create, list, read with state, change, pause, resume, delete; configs
validated per kind with the JSON path; permissions; audit; export and import with the workflow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.models import AuditEntry
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.triggers._helpers import API, create, show, workflow


async def test_a_trigger_is_created_listed_changed_paused_resumed_and_deleted(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(
        client, owner.headers, workflow_id, "schedule", config={"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    )
    assert len(trigger["next_fire_times"]) == 5
    assert trigger["state"]["enabled"] is True
    listed = await client.get(f"{API}/workflows/{workflow_id}/triggers", headers=owner.headers)
    assert [t["id"] for t in listed.json()["items"]] == [trigger["id"]]
    everywhere = await client.get(f"{API}/triggers", headers=owner.headers)
    assert everywhere.json()["total"] == 1

    changed = await client.patch(
        f"{API}/triggers/{trigger['id']}", json={"name": "Weekdays", "config": {"every_s": 3600}}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Weekdays"
    assert changed.json()["config"]["every_s"] == 3600
    paused = await client.post(f"{API}/triggers/{trigger['id']}/pause", headers=owner.headers)
    assert paused.json()["state"]["enabled"] is False
    assert (await show(client, owner.headers, trigger["id"]))["next_fire_times"] == []
    resumed = await client.post(f"{API}/triggers/{trigger['id']}/resume", headers=owner.headers)
    assert resumed.json()["state"]["enabled"] is True
    assert len(resumed.json()["next_fire_times"]) == 5
    assert (await client.delete(f"{API}/triggers/{trigger['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/triggers/{trigger['id']}", headers=owner.headers)).status_code == 404

    async with app.state.db.transaction() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.org_id == owner.org_id, AuditEntry.target_type == "trigger")
            )
        )
    assert sorted(actions) == sorted(
        ["trigger.create", "trigger.update", "trigger.pause", "trigger.resume", "trigger.delete"]
    )


@pytest.mark.parametrize(
    ("body", "location", "code"),
    [
        ({"kind": "telepathy"}, "body.kind", "invalid"),
        ({"kind": "schedule", "config": {"cron": "every day"}}, "body.config.cron", "invalid_config"),
        ({"kind": "webhook", "config": {"signature": {"style": "github"}}}, "body.config.signature.secret", None),
        ({"kind": "webhook", "config": {"allow_ips": ["10.0.0.300/8"]}}, "body.config.allow_ips", None),
        ({"kind": "webhook", "config": {"respond": "node"}}, "body.config", None),
        ({"kind": "event", "config": {"name": "x", "filter": "event.payload.amount >"}}, "body.config.filter", None),
        ({"kind": "webhook", "inputs": {"customer": "{{ event.body. }}"}}, "body.inputs.customer", "invalid_inputs"),
    ],
)
async def test_a_bad_config_is_a_422_naming_its_path(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, body: dict[str, Any], location: str, code: str
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    response = await client.post(
        f"{API}/workflows/{workflow_id}/triggers", json={"name": "bad", **body}, headers=owner.headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"][0]["location"] == location, error
    if code:
        assert error["code"] == code


async def test_reading_needs_triggers_read_and_changing_needs_triggers_manage(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "webhook")
    assert (await client.get(f"{API}/triggers/{trigger['id']}", headers=viewer.headers)).status_code == 200
    refused = await client.post(f"{API}/triggers/{trigger['id']}/pause", headers=viewer.headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["permission"] == "triggers:manage"
    stranger = await tenant()
    assert (await client.get(f"{API}/triggers/{trigger['id']}", headers=stranger.headers)).status_code == 404


async def test_fire_by_hand_starts_once_per_key(app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "event", config={"name": "x"}, inputs={"customer": "M"})
    body = {"payload": {}, "key": "k1"}
    first = await client.post(f"{API}/triggers/{trigger['id']}/fire", json=body, headers=owner.headers)
    again = await client.post(f"{API}/triggers/{trigger['id']}/fire", json=body, headers=owner.headers)
    assert first.json()["outcome"] == "started"
    assert first.json()["new"] is True
    assert again.json()["new"] is False
    assert again.json()["execution_id"] == first.json()["execution_id"]


async def test_triggers_travel_with_the_workflow_and_arrive_paused(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    upstream = await workflow(app, owner.org_id, "Upstream")
    workflow_id = await workflow(app, owner.org_id, "Exported")
    await create(client, owner.headers, workflow_id, "schedule", config={"every_s": 60})
    await create(client, owner.headers, workflow_id, "chain", config={"after_workflow": str(upstream)})
    bundle = (await client.get(f"{API}/workflows/{workflow_id}/export", headers=owner.headers)).json()
    exported = bundle["workflows"][0]["triggers"]
    assert sorted(t["kind"] for t in exported) == ["chain", "schedule"]
    chain = next(t for t in exported if t["kind"] == "chain")
    assert chain["config"]["after_workflow_name"] == "Upstream"

    imported = await client.post(
        f"{API}/workflows/import", params={"on_conflict": "rename"}, json=bundle, headers=owner.headers
    )
    assert imported.status_code in (200, 201), imported.text
    new_id = imported.json()["workflows"][0]["id"]
    listed = (await client.get(f"{API}/workflows/{new_id}/triggers", headers=owner.headers)).json()["items"]
    assert sorted(t["kind"] for t in listed) == ["chain", "schedule"]
    assert all(t["state"]["enabled"] is False for t in listed)
    assert next(t for t in listed if t["kind"] == "chain")["config"]["after_workflow"] == str(upstream)


async def test_only_the_newest_events_are_kept(app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "event", config={"name": "x"}, inputs={"customer": "M"})
    for n in range(5):
        body = {"payload": {}, "key": f"k{n}"}
        fired = await client.post(f"{API}/triggers/{trigger['id']}/fire", json=body, headers=owner.headers)
        assert fired.json()["outcome"] == "started"
    app.state.trigger_runner.events_kept = 3
    await app.state.trigger_runner.prune()
    kept = (await show(client, owner.headers, trigger["id"], events=10))["events"]
    assert [e["key"] for e in kept] == ["k4", "k3", "k2"]
    assert (await show(client, owner.headers, trigger["id"]))["state"]["fire_count"] == 5
