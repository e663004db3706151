"""The /executions API: start, read, list (filters, offset and cursor pages), cancel, retry,
artifacts, tenancy and permissions, and the executions gauge on /metrics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from orchestrator.db.base import utcnow
from orchestrator.models import AuditEntry
from orchestrator.models.executions import Artifact
from orchestrator.schemas import pagination
from orchestrator.services.artifacts import artifact_root, receive_artifact
from orchestrator.services.execution_states import State
from orchestrator.services.executions import get_execution
from tests.orchestrator._execution_helpers import flow, make_execution, make_workflow, seed_executions

API = "/api/v1"


async def start(client: httpx.AsyncClient, member: Any, workflow_id: uuid.UUID, **body: Any) -> httpx.Response:
    return await client.post(
        f"{API}/executions", json={"workflow_id": str(workflow_id), **body}, headers=member.headers
    )


async def audit_actions(app: FastAPI, target_id: str) -> list[str]:
    async with app.state.db.transaction() as session:
        return list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_id == target_id)
                .order_by(AuditEntry.created_at, AuditEntry.seq)
            )
        )


async def test_start_pins_the_latest_version_and_resolves_inputs(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(
        app, owner.org_id, name="Payroll", document=flow("Payroll", priority="high"), publish=2
    )
    response = await start(client, owner, workflow_id, inputs={"customer": "ACME"}, deadline_s=60)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["state"], body["version_number"], body["workflow_name"], body["priority"]) == (
        "queued",
        2,
        "Payroll",
        "high",
    )
    assert body["inputs"] == {"customer": "ACME", "count": 3}
    assert body["trigger"] == {
        "type": "manual",
        "by": {"id": str(owner.user_id), "name": owner.email},
        "trigger_id": None,
        "trigger_name": None,
        "key": None,
    }
    assert body["created_by"] == str(owner.user_id)
    assert body["waiting_reason"] is None
    assert body["queued_at"] is not None
    assert body["attempt"] == 1
    assert body["deadline_at"] is not None
    assert body["cancel_requested_at"] is None
    fetched = (await client.get(f"{API}/executions/{body['id']}", headers=owner.headers)).json()
    # Reading it says why it waits (the start's answer predates any dispatch).
    assert fetched == {**body, "waiting_reason": "no agent of the organisation is online"}
    history = (await client.get(f"{API}/executions/{body['id']}/transitions", headers=owner.headers)).json()
    assert history["total"] == 1
    assert (history["items"][0]["from_state"], history["items"][0]["to_state"]) == (None, "queued")
    assert await audit_actions(app, body["id"]) == ["execution.start"]

    pinned = await start(client, owner, workflow_id, version=1, inputs={"customer": "B", "count": 9}, priority="urgent")
    assert (pinned.json()["version_number"], pinned.json()["priority"], pinned.json()["inputs"]["count"]) == (
        1,
        "urgent",
        9,
    )
    missing = await start(client, owner, workflow_id, version=7, inputs={"customer": "B"})
    assert missing.status_code == 404


async def test_starts_give_their_connection_back_whether_they_succeed_or_fail(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    # The start routes open and release their own read session (no SessionDep): a refused start
    # (unknown workflow or version, bad inputs, a bad batch item) must not keep a connection.
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    pool = app.state.db.engine.sync_engine.pool
    for _ in range(3):
        assert (await start(client, owner, uuid.uuid4(), inputs={"customer": "A"})).status_code == 404
        assert (await start(client, owner, workflow_id, version=9, inputs={"customer": "A"})).status_code == 404
        assert (await start(client, owner, workflow_id, inputs={"count": "three"})).status_code == 422
        batch = await client.post(
            f"{API}/executions/batch",
            headers=owner.headers,
            json={
                "items": [
                    {"workflow_id": str(workflow_id), "inputs": {"customer": "A"}},
                    {"workflow_id": str(uuid.uuid4())},
                ]
            },
        )
        assert batch.status_code == 404
        assert (await start(client, owner, workflow_id, inputs={"customer": "A"})).status_code == 201
    assert pool.checkedout() == 0


async def test_inputs_are_checked_against_the_pinned_version(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    response = await start(client, owner, workflow_id, inputs={"count": "three", "colour": "red"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_inputs"
    assert "inputs.customer: required input is missing" in error["message"]
    assert {d["location"] for d in error["details"]} == {"inputs.customer", "inputs.count", "inputs.colour"}
    assert "expected integer" in next(d["message"] for d in error["details"] if d["location"] == "inputs.count")
    bad_priority = await start(client, owner, workflow_id, inputs={"customer": "A"}, priority="asap")
    assert bad_priority.status_code == 422


async def test_a_workflow_with_only_a_draft_cannot_be_executed(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id, publish=0)
    response = await start(client, owner, workflow_id, inputs={"customer": "A"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_published"


async def test_permissions_and_tenancy(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    operator = await tenant(org_id=owner.org_id, role="operator")
    stranger = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    refused = await start(client, viewer, workflow_id, inputs={"customer": "A"})
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"permission": "executions:start"}
    created = (await start(client, operator, workflow_id, inputs={"customer": "A"})).json()
    url = f"{API}/executions/{created['id']}"
    assert (await client.get(url, headers=viewer.headers)).status_code == 200
    assert (await client.post(f"{url}/cancel", headers=viewer.headers)).status_code == 403
    assert (await client.post(f"{url}/retry", headers=viewer.headers)).status_code == 403
    for method, path in [
        ("GET", ""),
        ("GET", "/events"),
        ("GET", "/transitions"),
        ("GET", "/artifacts"),
        ("POST", "/cancel"),
        ("POST", "/retry"),
    ]:
        response = await client.request(method, url + path, headers=stranger.headers)
        assert response.status_code == 404, (method, path)
    assert (await start(client, stranger, workflow_id, inputs={"customer": "A"})).status_code == 404
    listed = (await client.get(f"{API}/executions", headers=stranger.headers)).json()
    assert listed["total"] == 0
    assert listed["items"] == []
    assert (await client.get(url)).status_code == 401


async def test_totals_stop_counting_at_the_cap_and_say_so(
    app: FastAPI, client: httpx.AsyncClient, tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagination, "COUNT_CAP", 100)
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    await seed_executions(app, owner.org_id, workflow_id, 300, states=("queued", "running", "succeeded"))

    async def page(**params: Any) -> dict[str, Any]:
        response = await client.get(f"{API}/executions", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return response.json()

    everything = await page(limit=10)
    assert (everything["total"], everything["total_capped"]) == (100, True)  # "100+"
    assert len(everything["items"]) == 10
    assert everything["next_cursor"]
    exactly = await page(state="queued")  # 100 rows: the cap, not more
    assert (exactly["total"], exactly["total_capped"]) == (100, False)
    deep = await page(offset=250, limit=100)  # pages past the cap still work
    assert (len(deep["items"]), deep["total_capped"]) == (50, True)

    audit = (await client.get("/api/v1/audit", headers=owner.headers)).json()
    assert audit["total_capped"] is False  # a few entries: counted exactly
    monkeypatch.setattr(pagination, "COUNT_CAP", 1)
    audit = (await client.get("/api/v1/audit", headers=owner.headers)).json()
    assert (audit["total"], audit["total_capped"], len(audit["items"]) > 1) == (1, True, True)


async def test_list_filters_and_both_kinds_of_pages(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    other = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    second_workflow = await make_workflow(app, owner.org_id)
    rows = await seed_executions(app, owner.org_id, workflow_id, 2000, name="Monthly close")
    await seed_executions(
        app, owner.org_id, second_workflow, 40, name="Payroll run", states=("failed",), triggers=("webhook",)
    )
    await seed_executions(app, other.org_id, workflow_id, 30, name="Monthly close")

    async def page(**params: Any) -> dict[str, Any]:
        response = await client.get(f"{API}/executions", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return response.json()

    everything = await page(limit=10)
    assert everything["total"] == 2040
    assert everything["total_capped"] is False
    assert len(everything["items"]) == 10
    assert everything["next_cursor"]
    assert (await page(state="queued"))["total"] == 500
    assert (await page(state=["succeeded", "failed"]))["total"] == 1040
    assert (await page(workflow_id=str(second_workflow)))["total"] == 40
    assert (await page(trigger="schedule"))["total"] == 1000
    assert (await page(trigger="webhook", state="failed"))["total"] == 40
    assert (await page(q="payroll"))["total"] == 40
    assert (await page(q="100%"))["total"] == 0
    prefix = rows[123]["id"].hex[:10]
    found = await page(q=prefix)
    assert [item["id"] for item in found["items"]] == [str(rows[123]["id"])]
    dashed = str(rows[123]["id"])[:13]
    assert str(rows[123]["id"]) in [item["id"] for item in (await page(q=dashed))["items"]]
    middle = rows[1000]["created_at"]
    after = await page(created_after=middle.isoformat(), workflow_id=str(workflow_id))
    assert after["total"] == 1000  # rows 1000..1999: created_at is inclusive
    before = await page(created_before=middle.isoformat(), workflow_id=str(workflow_id))
    assert before["total"] == 1000
    assert (await page(state="lost"))["total"] == 0

    # Offset pages: newest first, ties broken by id.
    second = await page(limit=10, offset=10)
    assert [i["id"] for i in everything["items"]] + [i["id"] for i in second["items"]] == [
        i["id"] for i in (await page(limit=20))["items"]
    ]

    # Cursor pages walk the whole filtered list once, in order, without overlaps.
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 500, "workflow_id": str(workflow_id)}
        if cursor:
            params["cursor"] = cursor
        result = await page(**params)
        assert result["total"] == 2000
        seen.extend(result["items"])
        cursor = result["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert pages == 4
    assert len(seen) == 2000
    assert len({i["id"] for i in seen}) == 2000
    keys = [(i["created_at"], i["id"]) for i in seen]
    assert keys == sorted(keys, reverse=True)
    assert {i["id"] for i in seen} == {str(r["id"]) for r in rows}

    both = await client.get(
        f"{API}/executions", params={"cursor": cursor or everything["next_cursor"], "offset": 5}, headers=owner.headers
    )
    assert both.status_code == 422
    garbage = await client.get(f"{API}/executions", params={"cursor": "not-a-cursor"}, headers=owner.headers)
    assert garbage.status_code == 422
    assert "cursor" in garbage.json()["error"]["message"]
    assert (await client.get(f"{API}/executions", params={"limit": 501}, headers=owner.headers)).status_code == 422
    assert (await client.get(f"{API}/executions", params={"state": "bogus"}, headers=owner.headers)).status_code == 422


async def test_cancel_a_queued_execution_at_once_and_a_running_one_on_request(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    operator = await tenant(org_id=owner.org_id, role="operator")
    workflow_id = await make_workflow(app, owner.org_id)
    queued = await make_execution(app, owner.org_id, workflow_id)
    response = await client.post(
        f"{API}/executions/{queued}/cancel", json={"reason": "wrong customer"}, headers=operator.headers
    )
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["finished_at"] is not None
    assert response.json()["cancel_requested_at"] is not None
    assert await audit_actions(app, str(queued)) == ["execution.start", "execution.cancel"]
    again = await client.post(f"{API}/executions/{queued}/cancel", headers=operator.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_finished"

    running = await make_execution(app, owner.org_id, workflow_id, state=State.RUNNING)
    requested = await client.post(f"{API}/executions/{running}/cancel", headers=operator.headers)
    assert requested.status_code == 200
    assert requested.json()["state"] == "running"
    assert requested.json()["cancel_requested_at"] is not None
    repeated = await client.post(f"{API}/executions/{running}/cancel", headers=operator.headers)
    assert repeated.json()["cancel_requested_at"] == requested.json()["cancel_requested_at"]
    assert (await audit_actions(app, str(running))).count("execution.cancel") == 1


async def test_retry_makes_a_new_execution_of_the_same_version_and_inputs(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id, publish=1)
    failed = await make_execution(
        app, owner.org_id, workflow_id, inputs={"customer": "ACME", "count": 5}, state=State.FAILED
    )
    await make_workflow(app, owner.org_id)  # unrelated publishing does not matter
    response = await client.post(f"{API}/executions/{failed}/retry", headers=owner.headers)
    assert response.status_code == 201
    retry = response.json()
    assert retry["id"] != str(failed)
    assert (retry["state"], retry["parent_execution_id"], retry["resume_from"]) == ("queued", str(failed), None)
    assert (retry["inputs"], retry["version_number"], retry["workflow_id"]) == (
        {"customer": "ACME", "count": 5},
        1,
        str(workflow_id),
    )
    assert retry["trigger"]["type"] == "retry"
    assert await audit_actions(app, retry["id"]) == ["execution.retry"]
    resumed = (
        await client.post(f"{API}/executions/{failed}/retry", json={"resume": True}, headers=owner.headers)
    ).json()
    assert resumed["resume_from"] == str(failed)

    running = await make_execution(app, owner.org_id, workflow_id, state=State.RUNNING)
    refused = await client.post(f"{API}/executions/{running}/retry", headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_finished"
    succeeded = await make_execution(app, owner.org_id, workflow_id, state=State.SUCCEEDED)
    nothing = await client.post(f"{API}/executions/{succeeded}/retry", json={"resume": True}, headers=owner.headers)
    assert nothing.status_code == 409
    assert nothing.json()["error"]["code"] == "nothing_to_resume"
    assert (await client.post(f"{API}/executions/{succeeded}/retry", headers=owner.headers)).status_code == 201
    listed = (await client.get(f"{API}/executions", params={"trigger": "retry"}, headers=owner.headers)).json()
    assert listed["total"] == 3


async def register(
    app: FastAPI,
    org_id: uuid.UUID,
    execution_id: uuid.UUID,
    name: str,
    content: bytes,
    content_type: str = "text/plain",
) -> Artifact:
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, org_id, execution_id)
        # The way agents store artifacts (the upload route streams into receive_artifact).
        return await receive_artifact(
            session,
            artifact_root(app.state.settings),
            execution,
            name=name,
            chunks=_chunks(content),
            limit=len(content),
            content_type=content_type,
        )


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def test_artifacts_are_listed_and_downloaded(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id), state=State.RUNNING)
    report = await register(app, owner.org_id, execution_id, "report é.csv", b"a,b\n1,2\n", "text/csv")
    shot = await register(app, owner.org_id, execution_id, "../../shot.png", b"\x89PNG" + bytes(5000), "image/png")
    listed = (await client.get(f"{API}/executions/{execution_id}/artifacts", headers=viewer.headers)).json()
    assert listed["total"] == 2
    assert [a["name"] for a in listed["items"]] == ["report é.csv", "../../shot.png"]
    assert listed["items"][1]["size"] == 5004
    assert len(listed["items"][1]["sha256"]) == 64
    download = await client.get(f"{API}/executions/{execution_id}/artifacts/{report.id}", headers=viewer.headers)
    assert download.status_code == 200
    assert download.content == b"a,b\n1,2\n"
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in download.headers["content-disposition"]
    png = await client.get(f"{API}/executions/{execution_id}/artifacts/{shot.id}", headers=viewer.headers)
    assert png.content == b"\x89PNG" + bytes(5000)
    # The stored file lies where the store put it, whatever the artifact's name says.
    root = artifact_root(app.state.settings)
    assert (root / str(owner.org_id) / str(execution_id) / str(shot.id)).is_file()
    assert not (root.parent / "shot.png").exists()


async def test_artifact_downloads_cannot_leave_the_store(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    stranger = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    artifact = await register(app, owner.org_id, execution_id, "out.txt", b"ok")
    secret = Path(app.state.settings.data_dir) / "secret.key"
    assert secret.is_file()
    base = f"{API}/executions/{execution_id}/artifacts"
    for attempt in ["../../../secret.key", "..%2F..%2Fsecret.key", "%2e%2e%2fsecret.key", "/etc/passwd"]:
        response = await client.get(f"{base}/{attempt}", headers=owner.headers)
        assert response.status_code in (404, 422), attempt
        assert b"secret" not in response.content or response.headers["content-type"].startswith("application/json")
    # A row whose path was tampered with is refused too.
    for tampered in ["../secret.key", str(secret), f"{owner.org_id}/../../secret.key"]:
        async with app.state.db.transaction() as session:
            await session.execute(update(Artifact).where(Artifact.id == artifact.id).values(path=tampered))
        response = await client.get(f"{base}/{artifact.id}", headers=owner.headers)
        assert response.status_code == 404, tampered
        assert response.json()["error"]["code"] == "artifact_missing"
    assert (await client.get(f"{base}/{artifact.id}", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"{base}/{uuid.uuid4()}", headers=owner.headers)).status_code == 404


async def test_metrics_count_executions_by_state(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    await seed_executions(app, owner.org_id, workflow_id, 8, start=utcnow() - timedelta(hours=1))
    await make_execution(app, owner.org_id, workflow_id, state=State.LOST)
    text = (await client.get("/metrics")).text
    assert 'rpa_executions{state="queued"} 2.0' in text
    assert 'rpa_executions{state="running"} 2.0' in text
    assert 'rpa_executions{state="lost"} 1.0' in text
    assert 'rpa_executions{state="paused"} 0.0' in text
    await make_execution(app, owner.org_id, workflow_id)
    assert 'rpa_executions{state="queued"} 3.0' in (await client.get("/metrics")).text


@pytest.mark.parametrize("route", ["", "/events", "/transitions", "/artifacts"])
async def test_unknown_and_malformed_ids(client: httpx.AsyncClient, tenant, route: str) -> None:
    owner = await tenant()
    assert (await client.get(f"{API}/executions/{uuid.uuid4()}{route}", headers=owner.headers)).status_code == 404
    assert (await client.get(f"{API}/executions/nope{route}", headers=owner.headers)).status_code == 422
