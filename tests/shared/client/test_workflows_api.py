"""`client.workflows` against a real orchestrator: every method once, the stale-revision refusal,
a refused publish with its problems, and the API's error codes (404, 409, 422)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from shared.client import ApiClient, ApiError, StaleRevision, Workflow, WorkflowSaved
from tests.shared.client.conftest import call


def a_flow(name: str, *, seconds: float = 0) -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "inputs": {"customer": {"type": "string", "required": True}},
        "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": seconds}}],
    }


def broken_flow(name: str) -> dict[str, Any]:
    return a_flow(name) | {"nodes": [{"id": "wait", "type": "core.wait", "params": {}}]}


async def test_list_filter_and_read_workflows(api: ApiClient) -> None:
    invoices = await call(api.workflows.create, "Invoices", a_flow("x"), category="Finance", tags=["erp", "daily"])
    await call(api.workflows.create, "Payroll", a_flow("y"), category="HR", tags=["erp"])
    await call(api.workflows.create, "Onboarding", a_flow("z"), description="new invoices", tags=["daily"])
    assert isinstance(invoices, WorkflowSaved)
    assert invoices.problems == []
    assert invoices.draft["name"] == "Invoices"  # the server names the draft after the workflow

    everything = await call(api.workflows.list)
    assert everything.total == 3
    assert {w.name for w in everything.items} == {"Invoices", "Payroll", "Onboarding"}
    assert [w.name for w in (await call(api.workflows.list, q="invoice", sort="name")).items] == [
        "Invoices",
        "Onboarding",  # "invoices" in its description
    ]
    assert [w.name for w in (await call(api.workflows.list, tags=["erp", "daily"])).items] == ["Invoices"]
    assert [w.name for w in (await call(api.workflows.list, category="HR")).items] == ["Payroll"]
    paged = await call(api.workflows.list, sort="name", limit=2, offset=2)
    assert (paged.total, [w.name for w in paged.items]) == (3, ["Payroll"])
    assert {(t.name, t.count) for t in await call(api.workflows.tags)} == {("erp", 2), ("daily", 2)}
    assert {(c.name, c.count) for c in await call(api.workflows.categories)} == {("Finance", 1), ("HR", 1)}

    read = await call(api.workflows.get, invoices.id)
    assert isinstance(read, Workflow)
    assert (read.id, read.draft_revision, read.latest_version, read.etag) == (invoices.id, 1, None, invoices.etag)
    with pytest.raises(ValidationError, match="frozen"):
        read.name = "changed"  # type: ignore[misc]  # frozen


async def test_save_draft_checks_the_revision_and_a_stale_one_is_refused(api: ApiClient) -> None:
    created = await call(api.workflows.create, "Invoices", a_flow("Invoices"))
    mine = copy.deepcopy(created.draft)
    mine["nodes"][0]["params"]["seconds"] = 1
    saved = await call(api.workflows.save_draft, created.id, mine, etag=created.etag)
    assert saved.draft_revision == created.draft_revision + 1
    assert saved.draft["nodes"][0]["params"]["seconds"] == 1
    assert saved.etag != created.etag

    theirs = copy.deepcopy(created.draft)
    theirs["nodes"][0]["params"]["seconds"] = 2
    with pytest.raises(StaleRevision) as caught:
        await call(api.workflows.save_draft, created.id, theirs, etag=created.etag)  # read before my save
    assert (caught.value.status, caught.value.code) == (412, "precondition_failed")
    assert "changed since you read it" in caught.value.message
    assert caught.value.current_etag == saved.etag
    assert (await call(api.workflows.get, created.id)).draft["nodes"][0]["params"]["seconds"] == 1  # not written

    renamed = await call(api.workflows.update, created.id, etag=saved.etag, name="Invoices EU", tags=["eu"])
    assert (renamed.name, renamed.tags) == ("Invoices EU", ["eu"])


async def test_validate_and_publish_a_refused_draft_lists_its_problems(api: ApiClient) -> None:
    created = await call(api.workflows.create, "Broken", broken_flow("Broken"))
    assert created.problems  # saved anyway, with its problems
    report = await call(api.workflows.validate, created.id)
    assert report.valid is False
    assert report.problems[0].path.startswith("$.nodes[0]")
    with pytest.raises(ApiError) as caught:
        await call(api.workflows.publish, created.id, note="first")
    assert (caught.value.status, caught.value.code) == (422, "invalid_flow")
    assert caught.value.problems[0]["path"] == report.problems[0].path
    assert not isinstance(caught.value, StaleRevision)


async def test_publish_versions_diff_rollback_and_clone(api: ApiClient) -> None:
    created = await call(api.workflows.create, "Invoices", a_flow("Invoices"))
    first = await call(api.workflows.publish, created.id, note="first", etag=created.etag)
    assert (first.number, first.note, first.document["nodes"][0]["params"]["seconds"]) == (1, "first", 0)
    current = await call(api.workflows.get, created.id)
    changed = copy.deepcopy(current.draft)
    changed["nodes"][0]["params"]["seconds"] = 5
    saved = await call(api.workflows.save_draft, created.id, changed, etag=current.etag)
    second = await call(api.workflows.publish, created.id, note="slower")
    assert second.number == 2

    listed = await call(api.workflows.versions, created.id)
    assert [(v.number, v.note) for v in listed.items] == [(2, "slower"), (1, "first")]
    assert (await call(api.workflows.version, created.id, 1)).document["nodes"][0]["params"]["seconds"] == 0

    diff = await call(api.workflows.diff, created.id, before=1, after=2)
    assert (diff.from_, diff.to, diff.identical) == (1, 2, False)
    assert diff.nodes["changed"][0]["id"] == "wait"
    assert diff.nodes["changed"][0]["fields"]["params.seconds"] == {"from": 0, "to": 5}
    assert (await call(api.workflows.diff, created.id)).identical is True  # latest version vs draft

    with pytest.raises(StaleRevision):
        await call(api.workflows.rollback, created.id, 1, etag=saved.etag)  # published since
    rolled = await call(api.workflows.rollback, created.id, 1, note="back")
    assert (rolled.number, rolled.source_version, rolled.note) == (3, 1, "back")
    assert (await call(api.workflows.get, created.id)).draft["nodes"][0]["params"]["seconds"] == 0

    clone = await call(api.workflows.clone, created.id, "Invoices copy", version=2)
    assert (clone.name, clone.latest_version) == ("Invoices copy", None)
    assert clone.draft["nodes"][0]["params"]["seconds"] == 5


async def test_export_and_import_a_bundle(api: ApiClient) -> None:
    created = await call(api.workflows.create, "Invoices", a_flow("Invoices"), tags=["erp"])
    await call(api.workflows.publish, created.id, note="first")
    bundle = await call(api.workflows.export_bundle, created.id)
    assert bundle["bundle"] == "rpa.bundle/1"
    assert [w["name"] for w in bundle["workflows"]] == ["Invoices"]

    with pytest.raises(ApiError) as caught:
        await call(api.workflows.import_bundle, bundle)  # the name is in use
    assert (caught.value.status, caught.value.code) == (409, "name_taken")
    imported = await call(api.workflows.import_bundle, bundle, on_conflict="rename")
    assert len(imported) == 1
    assert imported[0].source_name == "Invoices"
    assert imported[0].name != "Invoices"
    assert imported[0].latest_version == 1
    assert (await call(api.workflows.get, imported[0].id)).tags == ["erp"]


async def test_errors_carry_the_apis_status_and_code(api: ApiClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ApiError) as caught:
        await call(api.workflows.get, missing)
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as caught:
        await call(api.workflows.create, "")  # a name is required
    assert caught.value.status == 422
    assert caught.value.code
    created = await call(api.workflows.create, "Gone", a_flow("Gone"))
    await call(api.workflows.delete, created.id, etag=created.etag)
    with pytest.raises(ApiError) as caught:
        await call(api.workflows.get, created.id)
    assert caught.value.code == "not_found"


async def test_callers_and_the_publish_check_name_the_calls_a_publish_would_break(api: ApiClient) -> None:
    invoices = await call(api.workflows.create, "Invoices", a_flow("Invoices"))
    await call(api.workflows.publish, invoices.id, note="first")
    caller = {
        "schema": "rpa.flow/1",
        "name": "Month end",
        "nodes": [{"id": "call", "type": "flow.call", "params": {"flow": "Invoices", "inputs": {"customer": "Bo"}}}],
    }
    month_end = await call(api.workflows.create, "Month end", caller)
    callers = await call(api.workflows.callers, invoices.id)
    assert month_end.id in str(callers)
    assert not (await call(api.workflows.publish_check, invoices.id))["breaking"]
    current = await call(api.workflows.get, invoices.id)
    await call(api.workflows.save_draft, invoices.id, current.draft | {"inputs": {}}, etag=current.etag)
    check = await call(api.workflows.publish_check, invoices.id)
    assert check["breaking"]
    assert month_end.id in str(check)
