"""Flow documents on an orchestrator, without Qt: open the draft, edit, save with its revision; a
stale revision is refused with the edits kept; publish (refused with the server's problems when
the draft is invalid); a published version opens read-only; a local flow saves as a new workflow."""

from __future__ import annotations

import pytest

from shared.client import ApiClient, ApiError, StaleRevision
from shared.steps import StepRegistry
from studio.model import CommandError, FlowDocument
from studio.remote import open_draft, open_version, publish, save, source_of
from tests.orchestrator.conftest import Member
from tests.studio.remote.conftest import call

FLOW = {
    "schema": "rpa.flow/1",
    "name": "Invoices",
    "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 1}}],
}


@pytest.fixture
def api(url: str, owner: Member) -> ApiClient:
    return ApiClient(url, refresh_token=owner.refresh_token)


@pytest.fixture(scope="module")
def registry() -> StepRegistry:
    return StepRegistry.default()


async def test_open_edit_save_and_a_stale_revision_keeps_the_edits(api: ApiClient, registry: StepRegistry) -> None:
    created = await call(api.workflows.create, "Invoices", FLOW)
    document = await call(open_draft, api, created.id, registry=registry)
    source = source_of(document)
    assert source is not None
    assert (source.workflow_id, source.name, source.revision, source.version) == (created.id, "Invoices", 1, None)
    assert source.label == "Invoices (draft, revision 1)"
    assert document.read_only is None

    document.execute("set_param", node="wait", name="seconds", value=2)
    saved = await call(save, api, document)
    assert saved.draft_revision == 2
    assert not document.dirty
    assert source_of(document).revision == 2  # type: ignore[union-attr]
    assert (await call(api.workflows.get, created.id)).draft["nodes"][0]["params"]["seconds"] == 2

    other = await call(open_draft, api, created.id, registry=registry)  # a second designer
    other.execute("set_param", node="wait", name="seconds", value=3)
    await call(save, api, other)
    document.execute("set_param", node="wait", name="seconds", value=4)
    with pytest.raises(StaleRevision):
        await call(save, api, document)
    assert document.dirty  # nothing lost here
    assert document.node("wait")["params"]["seconds"] == 4
    assert source_of(document).revision == 2  # type: ignore[union-attr]
    assert (await call(api.workflows.get, created.id)).draft["nodes"][0]["params"]["seconds"] == 3  # nor there


async def test_publish_then_open_the_version_read_only(api: ApiClient, registry: StepRegistry) -> None:
    created = await call(api.workflows.create, "Invoices", FLOW)
    document = await call(open_draft, api, created.id, registry=registry)
    document.execute("set_param", node="wait", name="seconds", value="not a number")
    with pytest.raises(ApiError) as caught:
        await call(publish, api, document, note="first")  # saved, then refused with its problems
    assert caught.value.code == "invalid_flow"
    assert caught.value.problems[0]["path"] == "$.nodes[0].params.seconds"
    assert not document.dirty

    document.execute("set_param", node="wait", name="seconds", value=5)
    version = await call(publish, api, document, note="first")
    assert (version.number, version.note) == (1, "first")
    assert source_of(document).etag == (await call(api.workflows.get, created.id)).etag  # type: ignore[union-attr]

    published = await call(open_version, api, created.id, 1, registry=registry)
    assert published.node("wait")["params"]["seconds"] == 5
    assert source_of(published).label == "Invoices (version 1, read-only)"  # type: ignore[union-attr]
    with pytest.raises(CommandError, match="read-only"):
        published.execute("set_param", node="wait", name="seconds", value=6)
    with pytest.raises(ApiError) as caught:
        await call(save, api, published)
    assert caught.value.code == "read_only"


async def test_a_local_flow_is_saved_as_a_new_workflow(api: ApiClient, registry: StepRegistry) -> None:
    document = FlowDocument(dict(FLOW, name="Local flow"), registry=registry)
    with pytest.raises(ApiError) as caught:
        await call(publish, api, document)
    assert caught.value.code == "not_saved"
    saved = await call(save, api, document)
    assert saved.name == "Local flow"
    assert source_of(document).workflow_id == saved.id  # type: ignore[union-attr]
    assert [w.name for w in (await call(api.workflows.list)).items] == ["Local flow"]
