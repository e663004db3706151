"""Publishing, immutable versions, rollback, the structured diff, and `published_version` for executions."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.errors import Conflict, NotFound
from orchestrator.models.workflows import ImmutableVersionError
from orchestrator.services.workflow_diff import diff_documents
from orchestrator.services.workflows import published_version, published_version_by_name
from tests.orchestrator._workflows_helpers import API, create, flow, log, patch, publish


async def test_publish_numbers_versions_and_keeps_them_apart_from_the_draft(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Versions", flow(nodes=[log("one")]))
    wid = created["id"]
    first = await client.post(f"{API}/workflows/{wid}/publish", json={"note": "first cut"}, headers=owner.headers)
    assert first.status_code == 201
    body = first.json()
    assert (body["number"], body["note"], body["source_version"]) == (1, "first cut", None)
    assert body["document"] == created["draft"]
    assert body["created_by"] == str(owner.user_id)
    assert first.headers["etag"] == (await client.get(f"{API}/workflows/{wid}", headers=owner.headers)).headers["etag"]

    await patch(client, owner.headers, wid, document=flow(nodes=[log("two")]))
    without_body = await client.post(f"{API}/workflows/{wid}/publish", headers=owner.headers)
    assert without_body.json()["number"] == 2
    await patch(client, owner.headers, wid, document=flow(nodes=[log("three")]))

    v1 = (await client.get(f"{API}/workflows/{wid}/versions/1", headers=owner.headers)).json()
    assert [n["id"] for n in v1["document"]["nodes"]] == ["one"]
    workflow = (await client.get(f"{API}/workflows/{wid}", headers=owner.headers)).json()
    assert workflow["latest_version"] == 2
    assert [n["id"] for n in workflow["draft"]["nodes"]] == ["three"]

    page = (
        await client.get(f"{API}/workflows/{wid}/versions", params={"limit": 1, "offset": 1}, headers=owner.headers)
    ).json()
    assert (page["total"], [v["number"] for v in page["items"]]) == (2, [1])
    assert "document" not in page["items"][0]
    newest = (await client.get(f"{API}/workflows/{wid}/versions", headers=owner.headers)).json()
    assert [v["number"] for v in newest["items"]] == [2, 1]

    missing = await client.get(f"{API}/workflows/{wid}/versions/7", headers=owner.headers)
    assert missing.status_code == 404
    assert "latest is 2" in missing.json()["error"]["message"]


async def test_a_version_has_a_fixed_etag(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Cached", flow()))["id"]
    await publish(client, owner.headers, wid)
    url = f"{API}/workflows/{wid}/versions/1"
    first = await client.get(url, headers=owner.headers)
    await patch(client, owner.headers, wid, description="draft edits do not touch versions")
    again = await client.get(url, headers={**owner.headers, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


async def test_an_invalid_draft_is_not_published(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    document = flow(
        nodes=[
            log("ok"),
            {"id": "wait", "type": "core.wait", "params": {"seconds": -1}},
            {"id": "go", "type": "flow.call", "params": {}},
        ],
        edges=[{"from": "ok", "to": "nowhere"}],
    )
    wid = (await create(client, owner.headers, "Not ready", document))["id"]
    response = await client.post(f"{API}/workflows/{wid}/publish", json={}, headers=owner.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_flow"
    assert [(p["path"], p["code"]) for p in error["details"]["problems"]] == [
        ("$.nodes[1].params.seconds", "invalid_param"),
        ("$.nodes[2].params.flow", "missing_param"),
        ("$.edges[0].to", "dangling_edge"),
    ]
    assert error["message"].startswith("the draft cannot be published: $.nodes[1].params.seconds:")
    assert (await client.get(f"{API}/workflows/{wid}/versions", headers=owner.headers)).json()["total"] == 0
    assert (await client.get(f"{API}/workflows/{wid}", headers=owner.headers)).json()["latest_version"] is None


async def test_versions_cannot_be_changed_or_deleted(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Frozen", flow()))["id"]
    await publish(client, owner.headers, wid)
    url = f"{API}/workflows/{wid}/versions/1"
    for method in ("PUT", "PATCH", "DELETE"):
        response = await client.request(method, url, json={"document": flow()}, headers=owner.headers)
        assert response.status_code == 405, method
    async with app.state.db.sessions() as session:
        version = await published_version(session, owner.org_id, uuid.UUID(wid), 1)
        version.note = "rewritten history"
        with pytest.raises(ImmutableVersionError):
            await session.flush()
        await session.rollback()
    assert (await client.get(url, headers=owner.headers)).json()["note"] == ""


async def test_rollback_publishes_an_earlier_version_again(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Rollback", flow(nodes=[log("good")])))["id"]
    await publish(client, owner.headers, wid)
    await patch(client, owner.headers, wid, document=flow(nodes=[log("bad")]))
    await publish(client, owner.headers, wid)
    before = (await client.get(f"{API}/workflows/{wid}", headers=owner.headers)).headers["etag"]

    stale = await client.post(
        f"{API}/workflows/{wid}/versions/1/rollback", json={}, headers={**owner.headers, "If-Match": '"stale"'}
    )
    assert stale.status_code == 412
    response = await client.post(
        f"{API}/workflows/{wid}/versions/1/rollback",
        json={"note": "bad release"},
        headers={**owner.headers, "If-Match": before},
    )
    assert response.status_code == 201
    v3 = response.json()
    assert (v3["number"], v3["source_version"], v3["note"]) == (3, 1, "bad release")
    v1 = (await client.get(f"{API}/workflows/{wid}/versions/1", headers=owner.headers)).json()
    assert v3["document"] == v1["document"]
    workflow = (await client.get(f"{API}/workflows/{wid}", headers=owner.headers)).json()
    assert workflow["latest_version"] == 3
    assert workflow["draft"] == v1["document"]
    assert workflow["etag"] != before
    async with app.state.db.sessions() as session:
        assert (await published_version(session, owner.org_id, uuid.UUID(wid))).number == 3
    missing = await client.post(f"{API}/workflows/{wid}/versions/9/rollback", json={}, headers=owner.headers)
    assert missing.status_code == 404
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    forbidden = await client.post(f"{API}/workflows/{wid}/versions/1/rollback", json={}, headers=viewer.headers)
    assert forbidden.status_code == 403


async def test_published_version_pins_what_executions_run(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    stranger = await tenant()
    wid = uuid.UUID((await create(client, owner.headers, "Pinned", flow(nodes=[log("v1")])))["id"])
    async with app.state.db.sessions() as session:
        with pytest.raises(Conflict) as never:
            await published_version(session, owner.org_id, wid)
        assert never.value.code == "not_published"
    await publish(client, owner.headers, str(wid))
    await patch(client, owner.headers, str(wid), document=flow(nodes=[log("v2")]))
    await publish(client, owner.headers, str(wid))
    async with app.state.db.sessions() as session:
        latest = await published_version(session, owner.org_id, wid)
        assert (latest.number, latest.workflow.name) == (2, "Pinned")
        assert latest.document["nodes"][0]["id"] == "v2"
        first = await published_version(session, owner.org_id, wid, 1)
        assert first.document["nodes"][0]["id"] == "v1"
        with pytest.raises(NotFound):
            await published_version(session, owner.org_id, wid, 3)
        with pytest.raises(NotFound):
            await published_version(session, stranger.org_id, wid)
        by_name = await published_version_by_name(session, owner.org_id, "Pinned")
        assert (by_name.id, (await published_version_by_name(session, owner.org_id, "Pinned", 1)).number) == (
            latest.id,
            1,
        )
        with pytest.raises(NotFound):
            await published_version_by_name(session, stranger.org_id, "Pinned")
    await client.delete(f"{API}/workflows/{wid}", headers=owner.headers)
    async with app.state.db.sessions() as session:
        with pytest.raises(NotFound):
            await published_version(session, owner.org_id, wid)


V1: dict[str, Any] = flow(
    "Orders",
    description="first",
    inputs={"limit": {"type": "integer", "default": 10}, "region": {"type": "string"}},
    outputs={"count": "{{ steps.each.output | length }}"},
    variables={"seen": [], "total": 0},
    settings={"timeout_s": 60},
    nodes=[
        {"id": "fetch", "type": "core.noop", "params": {"value": {"url": "https://a.example/orders", "page": 1}}},
        {
            "id": "each",
            "type": "control.foreach",
            "params": {"items": "{{ steps.fetch.output }}"},
            "body": {"nodes": [log("line", "{{ item }}"), log("audit")], "edges": [{"from": "line", "to": "audit"}]},
        },
        log("notify", "done"),
        log("old"),
    ],
    edges=[{"from": "fetch", "to": "each"}, {"from": "each", "to": "notify"}, {"from": "notify", "to": "old"}],
)

V2: dict[str, Any] = flow(
    "Orders",
    description="second",
    inputs={"limit": {"type": "integer", "default": 50}, "since": {"type": "string"}},
    outputs={"count": "{{ steps.each.output | length + 0 }}"},
    variables={"seen": []},
    settings={"timeout_s": 120, "priority": "high"},
    nodes=[
        {
            "id": "fetch",
            "type": "core.noop",
            "params": {"value": {"url": "https://b.example/orders", "page": 1, "X-Mode": "fast"}},
        },
        {
            "id": "each",
            "type": "control.foreach",
            "params": {"items": "{{ steps.fetch.output }}"},
            "body": {
                "nodes": [
                    log("line", "{{ item }}"),
                    log("audit"),
                    log("notify", "per item"),
                    {"id": "check", "type": "core.wait", "params": {"seconds": 1}},
                ],
                "edges": [{"from": "line", "to": "audit"}, {"from": "audit", "to": "check"}],
            },
        },
    ],
    edges=[{"from": "fetch", "to": "each"}],
)

EXPECTED_V1_TO_V2 = {
    "identical": False,
    "document": {"description": {"from": "first", "to": "second"}},
    "settings": {"timeout_s": {"from": 60, "to": 120}, "priority": {"from": None, "to": "high"}},
    "inputs": {
        "added": ["since"],
        "removed": ["region"],
        "changed": [{"name": "limit", "fields": {"default": {"from": 10, "to": 50}}}],
    },
    "outputs": {
        "added": [],
        "removed": [],
        "changed": [
            {"name": "count", "from": "{{ steps.each.output | length }}", "to": "{{ steps.each.output | length + 0 }}"}
        ],
    },
    "variables": {"added": [], "removed": ["total"], "changed": []},
    "nodes": {
        "added": ["check"],
        "removed": ["old"],
        "changed": [
            {
                "id": "fetch",
                "fields": {
                    "params.value.url": {"from": "https://a.example/orders", "to": "https://b.example/orders"},
                    'params.value["X-Mode"]': {"from": None, "to": "fast"},
                },
            },
            {
                "id": "notify",
                "fields": {
                    "params.message": {"from": "done", "to": "per item"},
                    "parent": {"from": "$", "to": "each.body"},
                },
            },
        ],
    },
    "edges": {
        "added": [{"graph": "each.body", "from": "audit", "port": "out", "to": "check"}],
        "removed": [
            {"graph": "$", "from": "each", "port": "out", "to": "notify"},
            {"graph": "$", "from": "notify", "port": "out", "to": "old"},
        ],
    },
}


def test_the_diff_of_two_hand_made_documents() -> None:
    assert diff_documents(V1, V2) == EXPECTED_V1_TO_V2
    assert diff_documents(V1, V1)["identical"] is True


def test_the_diff_compares_json_values_and_treats_empty_objects_as_missing() -> None:
    a = flow(
        nodes=[{"id": "n", "type": "core.noop", "params": {}}, {"id": "m", "type": "core.noop", "params": {"value": 1}}]
    )
    b = flow(nodes=[{"id": "n", "type": "core.noop"}, {"id": "m", "type": "core.noop", "params": {"value": True}}])
    changes = diff_documents(a, b)
    assert changes["nodes"]["changed"] == [{"id": "m", "fields": {"params.value": {"from": 1, "to": True}}}]
    broken = diff_documents({"nodes": "not a list"}, flow(nodes=[{"id": "x", "type": "core.nop"}, {"type": "?"}]))
    assert broken["nodes"]["added"] == ["x"]


async def test_the_diff_route_between_versions_and_the_draft(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Orders", V1))["id"]
    no_version = await client.get(f"{API}/workflows/{wid}/diff", headers=owner.headers)
    assert no_version.status_code == 422
    await publish(client, owner.headers, wid)
    await patch(client, owner.headers, wid, document=V2)
    await publish(client, owner.headers, wid)

    response = await client.get(f"{API}/workflows/{wid}/diff", params={"from": 1, "to": 2}, headers=owner.headers)
    assert response.status_code == 200
    no_files = {"added": [], "removed": [], "changed": []}
    assert response.json() == {"from": 1, "to": 2, **EXPECTED_V1_TO_V2, "assets": no_files}

    await patch(client, owner.headers, wid, document={**V2, "edges": []})
    latest_to_draft = (await client.get(f"{API}/workflows/{wid}/diff", headers=owner.headers)).json()
    assert (latest_to_draft["from"], latest_to_draft["to"]) == (2, "draft")
    assert latest_to_draft["edges"] == {
        "added": [],
        "removed": [{"graph": "$", "from": "fetch", "port": "out", "to": "each"}],
    }
    assert latest_to_draft["nodes"] == {"added": [], "removed": [], "changed": []}
    backwards = (
        await client.get(f"{API}/workflows/{wid}/diff", params={"from": "draft", "to": 1}, headers=owner.headers)
    ).json()
    assert backwards["nodes"]["added"] == ["old"]
    same = (await client.get(f"{API}/workflows/{wid}/diff", params={"from": 2, "to": 2}, headers=owner.headers)).json()
    assert same["identical"] is True
    for bad in ({"from": "latest"}, {"to": "0"}, {"from": "-1"}):
        assert (await client.get(f"{API}/workflows/{wid}/diff", params=bad, headers=owner.headers)).status_code == 422
    missing = await client.get(f"{API}/workflows/{wid}/diff", params={"from": 5}, headers=owner.headers)
    assert missing.status_code == 404
