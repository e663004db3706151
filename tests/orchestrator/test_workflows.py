"""Workflows: drafts with problems, ETags, permissions, tenancy, lists, soft delete, clone, audit."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from orchestrator.api.routes import templates as template_routes
from orchestrator.api.routes import workflows as workflow_routes
from orchestrator.models.workflows import Workflow, WorkflowVersion
from tests.orchestrator._workflows_helpers import API, audit_actions, create, flow, log, patch, publish

BROKEN = flow(
    "ignored",
    nodes=[
        {"id": "fetch", "type": "core.nop"},
        {"id": "pause", "type": "core.wait", "params": {}},
        {"id": "check", "type": "control.if", "params": {"condition": "{{ inputs.x > 1 }}"}},
        {
            "id": "loop",
            "type": "control.foreach",
            "params": {"items": [1]},
            "body": {"nodes": [{"id": "inner", "type": "core.log", "params": {"message": "{{ item"}}]},
        },
    ],
    edges=[{"from": "check", "port": "maybe", "to": "pause"}, {"from": "fetch", "to": "ghost"}],
)


async def test_an_invalid_document_is_saved_and_its_problems_located(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Broken", BROKEN)
    problems = {(p["path"], p["code"]) for p in created["problems"]}
    assert problems == {
        ("$.nodes[0].type", "unknown_step"),
        ("$.nodes[1].params.seconds", "missing_param"),
        ("$.nodes[3].body.nodes[0].params.message", "expression"),
        ("$.edges[0].port", "unknown_port"),
        ("$.edges[1].to", "dangling_edge"),
    }
    assert all(p["message"] for p in created["problems"])
    stored = (await client.get(f"{API}/workflows/{created['id']}", headers=owner.headers)).json()
    assert stored["draft"]["nodes"] == BROKEN["nodes"]
    report = (await client.post(f"{API}/workflows/{created['id']}/validate", headers=owner.headers)).json()
    assert report["valid"] is False
    assert report["problems"] == created["problems"]


async def test_the_document_name_follows_the_workflow_name(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Invoices", flow("Something else"))
    assert created["draft"]["name"] == "Invoices"
    assert created["problems"] == []
    renamed = await patch(client, owner.headers, created["id"], name="Invoices v2")
    assert renamed["draft"]["name"] == "Invoices v2"
    empty = await create(client, owner.headers, "Empty")
    assert empty["draft"] == {"schema": "rpa.flow/1", "name": "Empty", "nodes": [], "edges": []}


async def test_names_are_unique_among_live_workflows(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    first = await create(client, owner.headers, "Payroll")
    again = await client.post(f"{API}/workflows", json={"name": "Payroll"}, headers=owner.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "name_taken"
    other = await create(client, owner.headers, "Other")
    clash = await client.patch(f"{API}/workflows/{other['id']}", json={"name": "Payroll"}, headers=owner.headers)
    assert clash.status_code == 409
    assert (await client.delete(f"{API}/workflows/{first['id']}", headers=owner.headers)).status_code == 204
    await create(client, owner.headers, "Payroll")
    elsewhere = await tenant()
    await create(client, elsewhere.headers, "Payroll")


async def test_etag_gives_304_and_guards_edits_with_412(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Guarded", flow())
    url = f"{API}/workflows/{created['id']}"
    first = await client.get(url, headers=owner.headers)
    tag = first.headers["etag"]
    assert tag == created["etag"]
    unchanged = await client.get(url, headers={**owner.headers, "If-None-Match": tag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == tag

    edited = await client.patch(url, json={"description": "new"}, headers={**owner.headers, "If-Match": tag})
    assert edited.status_code == 200
    new_tag = edited.headers["etag"]
    assert new_tag != tag
    assert edited.json()["draft_revision"] == created["draft_revision"] + 1

    stale = await client.patch(url, json={"description": "lost update"}, headers={**owner.headers, "If-Match": tag})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    assert stale.json()["error"]["details"] == {"etag": new_tag}
    assert (await client.get(url, headers=owner.headers)).json()["description"] == "new"
    assert (await client.get(url, headers={**owner.headers, "If-None-Match": tag})).status_code == 200

    # Publishing changes the representation (latest_version), so the ETag moves too.
    await publish(client, owner.headers, created["id"])
    after_publish = await client.get(url, headers=owner.headers)
    assert after_publish.headers["etag"] != new_tag
    stale_delete = await client.delete(url, headers={**owner.headers, "If-Match": new_tag})
    assert stale_delete.status_code == 412


async def test_etag_header_lists_and_weak_forms(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Tags", flow())
    url, tag = f"{API}/workflows/{created['id']}", created["etag"]
    for header in (f'"other", {tag}', f"W/{tag}", "*"):
        assert (await client.get(url, headers={**owner.headers, "If-None-Match": header})).status_code == 304, header
    # If-Match compares strongly: a weak tag never matches; "*" matches any current representation.
    weak = await client.patch(url, json={"description": "x"}, headers={**owner.headers, "If-Match": f"W/{tag}"})
    assert weak.status_code == 412
    assert weak.headers["etag"] == tag
    star = await client.patch(url, json={"description": "x"}, headers={**owner.headers, "If-Match": "*"})
    assert star.status_code == 200


async def test_patch_without_if_match_and_a_no_op_patch(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Loose", flow(), tags=["a"], category="ops")
    same = await patch(client, owner.headers, created["id"], tags=["a"], category="ops")
    assert same["etag"] == created["etag"]
    assert same["draft_revision"] == created["draft_revision"]
    changed = await patch(
        client, owner.headers, created["id"], document=flow(nodes=[log("a"), log("b")]), category=None
    )
    assert [n["id"] for n in changed["draft"]["nodes"]] == ["a", "b"]
    assert changed["category"] is None
    assert changed["draft_revision"] == created["draft_revision"] + 1


async def test_another_tenants_workflow_is_not_found(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    stranger = await tenant()
    created = await create(client, owner.headers, "Private", flow())
    await publish(client, owner.headers, created["id"])
    url = f"{API}/workflows/{created['id']}"
    calls = [
        client.get(url, headers=stranger.headers),
        client.patch(url, json={"description": "x"}, headers=stranger.headers),
        client.delete(url, headers=stranger.headers),
        client.post(f"{url}/validate", headers=stranger.headers),
        client.post(f"{url}/publish", json={}, headers=stranger.headers),
        client.get(f"{url}/versions", headers=stranger.headers),
        client.get(f"{url}/versions/1", headers=stranger.headers),
        client.post(f"{url}/versions/1/rollback", json={}, headers=stranger.headers),
        client.get(f"{url}/diff?from=1&to=draft", headers=stranger.headers),
        client.post(f"{url}/clone", json={"name": "Mine now"}, headers=stranger.headers),
        client.get(f"{url}/export", headers=stranger.headers),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert response.json()["error"]["code"] == "not_found"
    listed = (await client.get(f"{API}/workflows", headers=stranger.headers)).json()
    assert listed["total"] == 0


async def test_a_viewer_reads_but_cannot_write(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    operator = await tenant(org_id=owner.org_id, role="operator")
    created = await create(client, owner.headers, "Shared", flow())
    url = f"{API}/workflows/{created['id']}"
    assert (await client.get(url, headers=viewer.headers)).status_code == 200
    assert (await client.get(f"{API}/workflows", headers=viewer.headers)).status_code == 200
    writes = {
        "workflows:write": [
            client.post(f"{API}/workflows", json={"name": "New"}, headers=viewer.headers),
            client.patch(url, json={"description": "x"}, headers=viewer.headers),
            client.post(f"{url}/clone", json={"name": "Copy"}, headers=viewer.headers),
            client.post(f"{API}/workflows/import", json={}, headers=viewer.headers),
        ],
        "workflows:publish": [
            client.post(f"{url}/publish", json={}, headers=viewer.headers),
            client.post(f"{url}/publish", json={}, headers=operator.headers),
        ],
        "workflows:delete": [client.delete(url, headers=viewer.headers)],
    }
    for permission, responses in writes.items():
        for call in responses:
            response = await call
            assert response.status_code == 403, response.text
            assert response.json()["error"]["details"] == {"permission": permission}
    assert (await client.get(url, headers=owner.headers)).json()["description"] == ""


async def test_a_designer_edits_and_publishes(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    designer = await tenant(org_id=owner.org_id, role="designer")
    created = await create(client, designer.headers, "By a designer", flow())
    assert created["created_by"] == str(designer.user_id)
    assert await publish(client, designer.headers, created["id"]) == 1


async def test_list_pages_filters_searches_and_sorts(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    specs = [
        ("Alpha invoices", "finance", ["daily", "sap"], "Books supplier invoices"),
        ("Beta payroll", "hr", ["monthly"], "Pays people 100% on time"),
        ("Gamma reports", "finance", ["daily"], "Builds the morning report"),
        ("Delta cleanup", None, [], "Archives old files"),
    ]
    ids = {}
    for name, category, tags, description in specs:
        ids[name] = (
            await create(client, owner.headers, name, flow(), category=category, tags=tags, description=description)
        )["id"]
    await publish(client, owner.headers, ids["Gamma reports"])

    async def names(**params: object) -> list[str]:
        response = await client.get(f"{API}/workflows", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names(sort="name") == ["Alpha invoices", "Beta payroll", "Delta cleanup", "Gamma reports"]
    assert await names(sort="-name", limit=2) == ["Gamma reports", "Delta cleanup"]
    page = (
        await client.get(f"{API}/workflows", params={"sort": "name", "limit": 3, "offset": 3}, headers=owner.headers)
    ).json()
    assert (page["total"], page["limit"], page["offset"]) == (4, 3, 3)
    assert [i["name"] for i in page["items"]] == ["Gamma reports"]
    assert "draft" not in page["items"][0]
    assert await names(category="finance", sort="name") == ["Alpha invoices", "Gamma reports"]
    assert await names(tag="daily", sort="name") == ["Alpha invoices", "Gamma reports"]
    assert await names(tag=["daily", "sap"]) == ["Alpha invoices"]
    assert await names(q="REPORT") == ["Gamma reports"]
    assert await names(q="supplier") == ["Alpha invoices"]
    assert await names(q="100%") == ["Beta payroll"]
    assert await names(q="_") == []
    assert await names(has_published=True) == ["Gamma reports"]
    assert await names(has_published=False, sort="name") == ["Alpha invoices", "Beta payroll", "Delta cleanup"]
    assert (await names(sort="-created_at"))[:1] == ["Delta cleanup"]
    bad = await client.get(f"{API}/workflows", params={"sort": "owner"}, headers=owner.headers)
    assert bad.status_code == 422
    too_many = await client.get(f"{API}/workflows", params={"limit": 501}, headers=owner.headers)
    assert too_many.status_code == 422

    tags = (await client.get(f"{API}/workflows/tags", headers=owner.headers)).json()
    assert tags["items"] == [
        {"name": "daily", "count": 2},
        {"name": "monthly", "count": 1},
        {"name": "sap", "count": 1},
    ]
    categories = (await client.get(f"{API}/workflows/categories", params={"limit": 1}, headers=owner.headers)).json()
    assert categories["items"] == [{"name": "finance", "count": 2}]
    assert categories["total"] == 2

    await client.delete(f"{API}/workflows/{ids['Alpha invoices']}", headers=owner.headers)
    assert await names(tag="sap") == []
    tags_after = (await client.get(f"{API}/workflows/tags", headers=owner.headers)).json()
    assert {"name": "sap", "count": 1} not in tags_after["items"]


async def test_tags_are_trimmed_and_deduplicated(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Tagged", tags=[" ops ", "ops", "nightly"])
    assert created["tags"] == ["ops", "nightly"]
    updated = await patch(client, owner.headers, created["id"], tags=["nightly"])
    assert updated["tags"] == ["nightly"]
    assert (await client.get(f"{API}/workflows", params={"tag": "ops"}, headers=owner.headers)).json()["total"] == 0


async def test_soft_delete_hides_the_workflow_but_keeps_its_versions(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Old", flow())
    await publish(client, owner.headers, created["id"])
    url = f"{API}/workflows/{created['id']}"
    assert (
        await client.delete(
            url, headers={**owner.headers, "If-Match": (await client.get(url, headers=owner.headers)).headers["etag"]}
        )
    ).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    assert (await client.delete(url, headers=owner.headers)).status_code == 404
    assert (await client.get(f"{API}/workflows", headers=owner.headers)).json()["total"] == 0
    async with app.state.db.sessions() as session:
        row = await session.get(Workflow, uuid.UUID(created["id"]))
        assert row is not None
        assert row.deleted_at is not None
        versions = (await session.scalars(select(WorkflowVersion).where(WorkflowVersion.workflow_id == row.id))).all()
        assert len(versions) == 1


async def test_clone_copies_the_draft_or_a_version(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    source = await create(
        client, owner.headers, "Source", flow(nodes=[log("v1")]), category="ops", tags=["x"], description="the original"
    )
    await publish(client, owner.headers, source["id"])
    await patch(client, owner.headers, source["id"], document=flow(nodes=[log("v2")]))
    response = await client.post(f"{API}/workflows/{source['id']}/clone", json={"name": "Copy"}, headers=owner.headers)
    assert response.status_code == 201
    copy = response.json()
    assert response.headers["location"].endswith(f"/api/v1/workflows/{copy['id']}")
    assert copy["id"] != source["id"]
    assert (copy["name"], copy["draft"]["name"]) == ("Copy", "Copy")
    assert [n["id"] for n in copy["draft"]["nodes"]] == ["v2"]
    assert (copy["category"], copy["tags"], copy["description"]) == ("ops", ["x"], "the original")
    assert copy["latest_version"] is None
    from_v1 = (
        await client.post(
            f"{API}/workflows/{source['id']}/clone", json={"name": "From v1", "version": 1}, headers=owner.headers
        )
    ).json()
    assert [n["id"] for n in from_v1["draft"]["nodes"]] == ["v1"]
    taken = await client.post(f"{API}/workflows/{source['id']}/clone", json={"name": "Source"}, headers=owner.headers)
    assert taken.status_code == 409
    missing = await client.post(
        f"{API}/workflows/{source['id']}/clone", json={"name": "X", "version": 9}, headers=owner.headers
    )
    assert missing.status_code == 404


async def test_every_write_is_audited(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Audited", flow())
    wid = created["id"]
    await patch(client, owner.headers, wid, description="d")
    await publish(client, owner.headers, wid)
    await client.post(f"{API}/workflows/{wid}/versions/1/rollback", json={}, headers=owner.headers)
    clone = (
        await client.post(f"{API}/workflows/{wid}/clone", json={"name": "Audited copy"}, headers=owner.headers)
    ).json()
    await client.delete(f"{API}/workflows/{wid}", headers=owner.headers)
    assert await audit_actions(app, owner.org_id, wid) == [
        "workflow.create",
        "workflow.update",
        "workflow.publish",
        "workflow.rollback",
        "workflow.delete",
    ]
    assert await audit_actions(app, owner.org_id, clone["id"]) == ["workflow.clone"]


async def test_request_bodies_are_checked(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    for body in (
        {"name": ""},
        {"name": "x" * 201},
        {"name": "ok", "document": [1, 2]},
        {"name": "ok", "bogus": 1},
        {"name": "ok", "tags": ["t"] * 51},
    ):
        response = await client.post(f"{API}/workflows", json=body, headers=owner.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid"
    big = flow(nodes=[log(f"n{i}", "x" * 10_000) for i in range(220)])
    too_big = await client.post(f"{API}/workflows", json={"name": "big", "document": big}, headers=owner.headers)
    assert too_big.status_code == 422
    assert too_big.json()["error"]["code"] == "document_too_large"


@pytest.mark.parametrize("module", [workflow_routes, template_routes])
def test_every_route_declares_a_permission_a_summary_and_a_response(module) -> None:
    for route in module.router.routes:
        assert isinstance(route, APIRoute)
        assert route.summary, route.path
        assert route.response_model is not None or route.status_code == 204, route.path
        permissions = [getattr(d.call, "permission", None) for d in route.dependant.dependencies]
        assert any(permissions), f"{route.path} declares no permission"
