"""Export and import bundles: sub-flows followed, no secret values, a round trip between two orchestrators."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.app import create_app
from orchestrator.settings import Settings
from tests.orchestrator._workflows_helpers import (
    API,
    audit_actions,
    call,
    create,
    flow,
    log,
    owner_headers,
    patch,
    publish,
)

SECRET_VALUE = "hunter2-Very-Secret-Value"


@pytest.fixture
async def second_app(settings: Settings, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """Another orchestrator with its own data dir (and, on SQLite, its own database)."""
    other = Settings(
        environment="test",
        data_dir=tmp_path / "second",
        database_url=settings.database_url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
    )
    application = create_app(other)
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50001)), base_url="http://testserver"
    )


async def _family(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """Main calls Sub A (draft) and Old Sub (version 1 only); Sub A calls Sub B inside a loop body;
    Sub B calls Main back (a cycle). Unrelated and a deleted workflow must stay out."""
    ids: dict[str, str] = {}
    ids["Sub B"] = (await create(client, headers, "Sub B", flow(nodes=[call("back", "Main")])))["id"]
    await publish(client, headers, ids["Sub B"])
    loop = {
        "id": "each",
        "type": "control.foreach",
        "params": {"items": 2},
        "body": {"nodes": [call("inner", "Sub B")]},
    }
    ids["Sub A"] = (
        await create(
            client, headers, "Sub A", flow(nodes=[loop]), category="lib", tags=["shared"], description="helper"
        )
    )["id"]
    await publish(client, headers, ids["Sub A"], note="first")
    await patch(client, headers, ids["Sub A"], description="helper, improved")
    await publish(client, headers, ids["Sub A"], note="second")
    ids["Old Sub"] = (await create(client, headers, "Old Sub", flow()))["id"]
    ids["Unrelated"] = (await create(client, headers, "Unrelated", flow()))["id"]
    ids["Gone"] = (await create(client, headers, "Gone", flow()))["id"]
    await client.delete(f"{API}/workflows/{ids['Gone']}", headers=headers)
    ids["Main"] = (await create(client, headers, "Main", flow(nodes=[call("old", "Old Sub")])))["id"]
    await publish(client, headers, ids["Main"], note="with the old sub-flow")
    main_draft = flow(
        nodes=[
            call("a", "Sub A"),
            call("dynamic", "{{ inputs.which }}"),
            call("gone", "Gone"),
            {"id": "login", "type": "core.log", "params": {"message": "token {{ secrets.crm_token }}"}},
        ],
        edges=[{"from": "a", "to": "dynamic"}, {"from": "dynamic", "to": "gone"}, {"from": "gone", "to": "login"}],
        inputs={"which": {"type": "string", "default": "Unrelated"}},
    )
    await patch(client, headers, ids["Main"], document=main_draft, tags=["entry"])
    await publish(client, headers, ids["Main"], note="new sub-flow")
    await patch(client, headers, ids["Main"], description="draft ahead of version 2")
    await client.post(f"{API}/workflows/{ids['Main']}/versions/1/rollback", json={}, headers=headers)
    await patch(client, headers, ids["Main"], document=main_draft)
    return ids


def _without_timestamps(bundle: dict[str, Any]) -> dict[str, Any]:
    bundle = copy.deepcopy(bundle)
    bundle.pop("exported_at")
    for workflow in bundle["workflows"]:
        for version in workflow["versions"]:
            version.pop("published_at")
    return bundle


async def test_export_follows_sub_flows_and_carries_no_secret_values(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    created = await client.post(
        f"{API}/credentials",
        headers=owner.headers,
        json={"name": "crm_token", "kind": "token", "value": {"token": SECRET_VALUE}},
    )
    assert created.status_code == 201, created.text
    ids = await _family(client, owner.headers)
    response = await client.get(f"{API}/workflows/{ids['Main']}/export", headers=owner.headers)
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["bundle"] == "rpa.bundle/1"
    assert bundle["root"] == "Main"
    assert [w["name"] for w in bundle["workflows"]] == ["Main", "Sub A", "Old Sub", "Sub B"]
    main, sub_a = bundle["workflows"][0], bundle["workflows"][1]
    assert set(main) == {
        "name",
        "description",
        "category",
        "sla_seconds",
        "tags",
        "draft",
        "versions",
        "assets",
        "contents",
        "triggers",
    }
    assert (main["assets"], main["contents"]) == ({}, {})
    assert [(v["number"], v["note"], v["source_version"]) for v in main["versions"]] == [
        (1, "with the old sub-flow", None),
        (2, "new sub-flow", None),
        (3, "rollback to version 1", 1),
    ]
    assert set(main["versions"][0]) == {"number", "document", "note", "source_version", "published_at", "assets"}
    assert (sub_a["category"], sub_a["tags"], sub_a["description"]) == ("lib", ["shared"], "helper, improved")
    assert [v["note"] for v in sub_a["versions"]] == ["first", "second"]

    text = json.dumps(bundle)
    assert SECRET_VALUE not in text
    assert "{{ secrets.crm_token }}" in text
    assert "credential" not in text.lower()
    assert "Unrelated" in text  # only as the default of an input, never as a bundled workflow

    viewer = await tenant(org_id=owner.org_id, role="viewer")
    assert (await client.get(f"{API}/workflows/{ids['Main']}/export", headers=viewer.headers)).status_code == 200


async def test_a_bundle_round_trips_between_two_orchestrators(
    client: httpx.AsyncClient, tenant, second_app: FastAPI
) -> None:
    owner = await tenant()
    ids = await _family(client, owner.headers)
    exported = (await client.get(f"{API}/workflows/{ids['Main']}/export", headers=owner.headers)).json()

    other_org, other_headers = await owner_headers(second_app)
    async with _client(second_app) as other:
        imported = await other.post(f"{API}/workflows/import", json=exported, headers=other_headers)
        assert imported.status_code == 201, imported.text
        created = imported.json()["workflows"]
        assert [(c["name"], c["source_name"], c["latest_version"]) for c in created] == [
            ("Main", "Main", 3),
            ("Sub A", "Sub A", 2),
            ("Old Sub", "Old Sub", None),
            ("Sub B", "Sub B", 1),
        ]
        main_id = created[0]["id"]
        again = (await other.get(f"{API}/workflows/{main_id}/export", headers=other_headers)).json()
        assert _without_timestamps(again) == _without_timestamps(exported)
        assert [v["published_at"] for v in again["workflows"][0]["versions"]] == [
            v["published_at"] for v in exported["workflows"][0]["versions"]
        ]
        versions = (await other.get(f"{API}/workflows/{main_id}/versions", headers=other_headers)).json()
        assert [v["number"] for v in versions["items"]] == [3, 2, 1]
        assert versions["items"][0]["source_version"] == 1
        workflow = (await other.get(f"{API}/workflows/{main_id}", headers=other_headers)).json()
        assert workflow["tags"] == ["entry"]
        publish_again = await other.post(f"{API}/workflows/{main_id}/publish", json={}, headers=other_headers)
        assert publish_again.json()["number"] == 4
        assert await audit_actions(second_app, other_org) == [
            "org.create",
            *["workflow.import"] * 4,
            "workflow.publish",
        ]


async def test_name_conflicts_fail_rename_or_replace(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    sub = (await create(client, owner.headers, "Sub", flow(nodes=[log("v1")])))["id"]
    main = (await create(client, owner.headers, "Main", flow(nodes=[call("go", "Sub")])))["id"]
    await publish(client, owner.headers, sub)
    await publish(client, owner.headers, main)
    bundle = (await client.get(f"{API}/workflows/{main}/export", headers=owner.headers)).json()

    conflict = await client.post(f"{API}/workflows/import", json=bundle, headers=owner.headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["details"] == {"names": ["Main", "Sub"]}

    renamed = await client.post(
        f"{API}/workflows/import", params={"on_conflict": "rename"}, json=bundle, headers=owner.headers
    )
    assert renamed.status_code == 201
    names = {c["source_name"]: c for c in renamed.json()["workflows"]}
    assert (names["Main"]["name"], names["Sub"]["name"]) == ("Main (2)", "Sub (2)")
    copy_of_main = (await client.get(f"{API}/workflows/{names['Main']['id']}", headers=owner.headers)).json()
    assert copy_of_main["draft"]["name"] == "Main (2)"
    assert copy_of_main["draft"]["nodes"][0]["params"]["flow"] == "Sub (2)"
    v1 = (await client.get(f"{API}/workflows/{names['Main']['id']}/versions/1", headers=owner.headers)).json()
    assert v1["document"]["nodes"][0]["params"]["flow"] == "Sub (2)"
    original = (await client.get(f"{API}/workflows/{main}", headers=owner.headers)).json()
    assert original["draft"]["nodes"][0]["params"]["flow"] == "Sub"

    replaced = await client.post(
        f"{API}/workflows/import", params={"on_conflict": "replace"}, json=bundle, headers=owner.headers
    )
    assert replaced.status_code == 201
    result = {c["name"]: c for c in replaced.json()["workflows"]}
    assert result["Main"]["replaced_id"] == main
    assert result["Sub"]["replaced_id"] == sub
    assert (await client.get(f"{API}/workflows/{main}", headers=owner.headers)).status_code == 404
    listed = (await client.get(f"{API}/workflows", params={"sort": "name"}, headers=owner.headers)).json()
    assert [w["name"] for w in listed["items"]] == ["Main", "Main (2)", "Sub", "Sub (2)"]
    assert "workflow.delete" in await audit_actions(app, owner.org_id, main)


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b: b.update(bundle="rpa.bundle/2"), 422),
        (lambda b: b.update(workflows=[]), 422),
        (lambda b: b["workflows"].append(copy.deepcopy(b["workflows"][0])), 422),
        (lambda b: b["workflows"][0]["versions"].append(copy.deepcopy(b["workflows"][0]["versions"][0])), 422),
        (lambda b: b["workflows"][0].update(credentials={"token": "x"}), 422),
        (lambda b: b["workflows"][0]["versions"][0].update(number=0), 422),
    ],
)
async def test_a_malformed_bundle_is_refused(client: httpx.AsyncClient, tenant, mutate, status) -> None:
    owner = await tenant()
    bundle = {
        "bundle": "rpa.bundle/1",
        "workflows": [{"name": "Imported", "draft": flow(), "versions": [{"number": 1, "document": flow()}]}],
    }
    mutate(bundle)
    response = await client.post(f"{API}/workflows/import", json=bundle, headers=owner.headers)
    assert response.status_code == status, response.text
    assert (await client.get(f"{API}/workflows", headers=owner.headers)).json()["total"] == 0


async def test_a_hand_written_bundle_imports_with_its_numbering(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    bundle = {
        "bundle": "rpa.bundle/1",
        "workflows": [
            {
                "name": "Hand made",
                "tags": ["x"],
                "draft": flow("whatever", nodes=[log("draft")]),
                "versions": [
                    {"number": 2, "document": flow("Hand made", nodes=[log("two")])},
                    {"number": 5, "document": flow("Hand made", nodes=[log("five")]), "source_version": 2},
                ],
            }
        ],
    }
    response = await client.post(f"{API}/workflows/import", json=bundle, headers=owner.headers)
    assert response.status_code == 201
    wid = response.json()["workflows"][0]["id"]
    workflow = (await client.get(f"{API}/workflows/{wid}", headers=owner.headers)).json()
    assert (workflow["latest_version"], workflow["draft"]["name"]) == (5, "Hand made")
    assert (await publish(client, owner.headers, wid)) == 6
    assert (await client.get(f"{API}/workflows/{wid}/versions/2", headers=owner.headers)).status_code == 200
