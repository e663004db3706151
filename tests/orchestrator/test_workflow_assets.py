"""A workflow's assets: upload to the draft, list, download, delete; frozen by publish, stored once
per content, checked by content and size, carried by export/import and shown by the diff."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import io
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from PIL import Image

from orchestrator.app import create_app
from orchestrator.models.executions import Execution
from orchestrator.models.workflows import Workflow, WorkflowVersion
from orchestrator.runtime.enrolment import create_enrolment_token, enroll
from orchestrator.runtime.hub import AgentLink
from orchestrator.services.audit import Actor
from orchestrator.services.workflow_assets import count_blobs, job_assets
from orchestrator.settings import Settings
from shared.protocol import JobAssign
from tests.orchestrator._workflows_helpers import API, call, create, flow, patch, publish
from tests.orchestrator.conftest import Member, make_tenant

# One app per database for the module (each test makes its own organisations): an app's start
# costs more than most of these tests.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    url = None
    if request.param == "postgres":
        server, template = request.getfixturevalue("postgres_template")
        url = server.url(asyncio.run(server.create_database(template)))
    return Settings(
        environment="test",
        data_dir=tmp_path_factory.mktemp("assets"),
        database_url=url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(module_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(module_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def limits(app: FastAPI) -> Iterator[Settings]:
    """The app's settings, whose asset limits a test may lower; put back afterwards."""
    settings: Settings = app.state.settings
    saved = (settings.max_asset_bytes, settings.max_version_asset_bytes)
    yield settings
    settings.max_asset_bytes, settings.max_version_asset_bytes = saved


@pytest.fixture
def tenant(app: FastAPI) -> Callable[..., Awaitable[Member]]:
    """`await tenant()`: a new organisation's owner; `tenant(org_id=…, role=…)`: a member of it."""
    return functools.partial(make_tenant, app)


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def clicks(*images: str) -> dict[str, Any]:
    nodes = [
        {"id": f"click_{i}", "type": "desktop.click", "params": {"target": f"image:{name} >> offset:5,0"}}
        for i, name in enumerate(images)
    ]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return flow(nodes=nodes, edges=edges, requires=["desktop"])


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], wid: str, files: dict[str, bytes], **extra: Any
) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files.items()]
    return await client.post(f"{API}/workflows/{wid}/assets", files=parts, headers=headers, **extra)


async def blobs(app: FastAPI, wid: str) -> int:
    async with app.state.db.sessions() as session:
        workflow = await session.get(Workflow, uuid.UUID(wid))
        assert workflow is not None
        return await count_blobs(session, workflow)


async def test_assets_are_uploaded_listed_downloaded_and_frozen_by_publish(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "Clicker", clicks("images/ok.png", "logo.png"))
    wid = created["id"]
    ok, logo = png(), png((0, 90, 200))

    sent = await upload(client, owner.headers, wid, {"images/ok.png": ok, "logo.png": logo})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert [(a["path"], a["size"], a["content_type"]) for a in body["items"]] == [
        ("images/ok.png", len(ok), "image/png"),
        ("logo.png", len(logo), "image/png"),
    ]
    assert body["items"][0]["sha256"] == hashlib.sha256(ok).hexdigest()
    assert body["draft_revision"] == created["draft_revision"] + 1  # the draft's ETag moved

    listed = (await client.get(f"{API}/workflows/{wid}/assets", headers=owner.headers)).json()
    assert (listed["total"], [a["path"] for a in listed["items"]]) == (2, ["images/ok.png", "logo.png"])
    got = await client.get(f"{API}/workflows/{wid}/assets/images/ok.png", headers=owner.headers)
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, ok, "image/png")
    assert got.headers["x-content-type-options"] == "nosniff"

    assert await publish(client, owner.headers, wid) == 1
    version = (await client.get(f"{API}/workflows/{wid}/assets", params={"version": 1}, headers=owner.headers)).json()
    assert [a["path"] for a in version["items"]] == ["images/ok.png", "logo.png"]

    # The draft moves on; version 1 keeps exactly what it was published with.
    assert (await client.delete(f"{API}/workflows/{wid}/assets/logo.png", headers=owner.headers)).status_code == 204
    newer = png((10, 200, 10))
    assert (await upload(client, owner.headers, wid, {"images/ok.png": newer})).status_code == 201
    old = await client.get(f"{API}/workflows/{wid}/assets/images/ok.png?version=1", headers=owner.headers)
    assert old.content == ok
    gone = await client.get(f"{API}/workflows/{wid}/assets/logo.png", headers=owner.headers)
    assert gone.status_code == 404
    assert "no asset 'logo.png'" in gone.json()["error"]["message"]
    assert (await client.get(f"{API}/workflows/{wid}/assets/logo.png?version=1", headers=owner.headers)).content == logo


async def test_the_same_content_is_stored_once_across_paths_and_versions(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Dedupe", clicks("a.png")))["id"]
    image = png()
    assert (await upload(client, owner.headers, wid, {"a.png": image, "copy/a.png": image})).status_code == 201
    for _ in range(3):
        await publish(client, owner.headers, wid)
    assert (await upload(client, owner.headers, wid, {"a.png": image})).status_code == 201
    assert await blobs(app, wid) == 1
    assert (await upload(client, owner.headers, wid, {"a.png": png((1, 2, 3))})).status_code == 201
    assert await blobs(app, wid) == 2  # the first content stays: the versions (and copy/a.png) hold it

    # A content only the draft held goes when the draft lets go of it; one a version holds stays.
    assert (await upload(client, owner.headers, wid, {"a.png": png((4, 5, 6))})).status_code == 201
    assert await blobs(app, wid) == 2
    assert (await client.delete(f"{API}/workflows/{wid}/assets/a.png", headers=owner.headers)).status_code == 204
    assert (await client.delete(f"{API}/workflows/{wid}/assets/copy/a.png", headers=owner.headers)).status_code == 204
    assert await blobs(app, wid) == 1
    got = await client.get(f"{API}/workflows/{wid}/assets/a.png?version=3", headers=owner.headers)
    assert got.content == image


async def test_publish_refuses_a_draft_naming_a_file_it_does_not_hold(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Missing", clicks("images/ok.png")))["id"]
    refused = await client.post(f"{API}/workflows/{wid}/publish", headers=owner.headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "missing_assets"
    assert error["details"]["missing"] == [{"asset": "images/ok.png", "path": "$.nodes[0].params.target"}]
    assert "upload it first" in error["message"]


BAD = [
    ("../escape.png", png(), "leaves the flow's folder"),
    ("/etc/passwd.png", png(), "is absolute"),
    ("fake.png", b"GIF89a not a png", "is not a PNG image"),
    ("script.exe", b"MZ....", "cannot be assets"),
    ("schema.json", b"{not json", "is not valid JSON"),
]


async def test_bad_names_and_contents_are_refused_with_the_reason(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Bad", flow()))["id"]
    for name, data, expected in BAD:
        refused = await upload(client, owner.headers, wid, {"good.png": png(), name: data})
        assert refused.status_code == 422, (name, refused.text)
        error = refused.json()["error"]
        assert (error["code"], error["details"]["path"]) == ("invalid_asset", name)
        assert expected in error["message"], name
    # All or nothing: the good file sent with each bad one was not kept either.
    assert (await client.get(f"{API}/workflows/{wid}/assets", headers=owner.headers)).json()["total"] == 0


async def test_size_limits_answer_413(limits: Settings, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Big", flow()))["id"]
    image = png(size=(64, 64))
    limits.max_asset_bytes = len(image) - 1
    one = await upload(client, owner.headers, wid, {"big.png": image})
    assert one.status_code == 413
    assert one.json()["error"]["code"] == "too_large"
    assert "big.png" in one.json()["error"]["message"]

    limits.max_asset_bytes = len(image)
    other = png((1, 1, 1), (64, 64))
    limits.max_version_asset_bytes = len(image) + len(other)
    assert (await upload(client, owner.headers, wid, {"a.png": image, "b.png": other})).status_code == 201
    third = await upload(client, owner.headers, wid, {"c.png": png((9, 9, 9), (4, 4))})
    assert third.status_code == 413
    assert "a version holds at most" in third.json()["error"]["message"]
    # Replacing a file counts its new size, not both.
    assert (await upload(client, owner.headers, wid, {"b.png": png((2, 2, 2), (2, 2))})).status_code == 201


async def test_a_viewer_reads_assets_but_cannot_change_them(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    wid = (await create(client, owner.headers, "Viewed", clicks("a.png")))["id"]
    assert (await upload(client, owner.headers, wid, {"a.png": png()})).status_code == 201
    assert (await client.get(f"{API}/workflows/{wid}/assets/a.png", headers=viewer.headers)).status_code == 200
    assert (await upload(client, viewer.headers, wid, {"b.png": png()})).status_code == 403
    assert (await client.delete(f"{API}/workflows/{wid}/assets/a.png", headers=viewer.headers)).status_code == 403


async def test_another_organisation_sees_none_of_them(client: httpx.AsyncClient, tenant) -> None:
    owner, stranger = await tenant(), await tenant()
    wid = (await create(client, owner.headers, "Private", clicks("a.png")))["id"]
    assert (await upload(client, owner.headers, wid, {"a.png": png()})).status_code == 201
    await publish(client, owner.headers, wid)
    for url in (f"{API}/workflows/{wid}/assets", f"{API}/workflows/{wid}/assets/a.png?version=1"):
        assert (await client.get(url, headers=stranger.headers)).status_code == 404
    assert (await upload(client, stranger.headers, wid, {"b.png": png()})).status_code == 404
    assert (await client.delete(f"{API}/workflows/{wid}/assets/a.png", headers=stranger.headers)).status_code == 404


async def test_the_diff_lists_assets_added_removed_and_changed(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Diffed", clicks("a.png", "b.png")))["id"]
    assert (await upload(client, owner.headers, wid, {"a.png": png(), "b.png": png((0, 0, 9))})).status_code == 201
    await publish(client, owner.headers, wid)
    await patch(client, owner.headers, wid, document=clicks("a.png", "c.png"))
    await client.delete(f"{API}/workflows/{wid}/assets/b.png", headers=owner.headers)
    await upload(client, owner.headers, wid, {"a.png": png((7, 7, 7)), "c.png": png((0, 9, 0))})
    diff = (await client.get(f"{API}/workflows/{wid}/diff", headers=owner.headers)).json()
    assert diff["assets"] == {"added": ["c.png"], "removed": ["b.png"], "changed": ["a.png"]}
    await publish(client, owner.headers, wid)
    same = (await client.get(f"{API}/workflows/{wid}/diff", headers=owner.headers)).json()
    assert same["assets"] == {"added": [], "removed": [], "changed": []}


async def test_rollback_brings_back_the_files_of_the_version(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    wid = (await create(client, owner.headers, "Rolled", clicks("a.png")))["id"]
    first = png()
    await upload(client, owner.headers, wid, {"a.png": first})
    await publish(client, owner.headers, wid)
    await upload(client, owner.headers, wid, {"a.png": png((5, 5, 5))})
    await publish(client, owner.headers, wid)
    rolled = await client.post(f"{API}/workflows/{wid}/versions/1/rollback", json={}, headers=owner.headers)
    assert rolled.status_code == 201, rolled.text
    assert (await client.get(f"{API}/workflows/{wid}/assets/a.png?version=3", headers=owner.headers)).content == first
    assert (await client.get(f"{API}/workflows/{wid}/assets/a.png", headers=owner.headers)).content == first


async def test_export_and_import_carry_the_files_and_older_exports_still_import(
    client: httpx.AsyncClient, tenant
) -> None:
    owner, other = await tenant(), await tenant()
    wid = (await create(client, owner.headers, "Exported", clicks("images/ok.png")))["id"]
    image = png()
    await upload(client, owner.headers, wid, {"images/ok.png": image})
    await publish(client, owner.headers, wid)
    bundle = (await client.get(f"{API}/workflows/{wid}/export", headers=owner.headers)).json()
    [entry] = bundle["workflows"]
    sha = hashlib.sha256(image).hexdigest()
    assert entry["assets"] == {"images/ok.png": sha}
    assert entry["versions"][0]["assets"] == {"images/ok.png": sha}
    assert base64.b64decode(entry["contents"][sha]) == image

    imported = await client.post(f"{API}/workflows/import", json=bundle, headers=other.headers)
    assert imported.status_code == 201, imported.text
    new_id = imported.json()["workflows"][0]["id"]
    got = await client.get(f"{API}/workflows/{new_id}/assets/images/ok.png?version=1", headers=other.headers)
    assert got.content == image

    tampered = {**bundle, "workflows": [{**entry, "contents": {sha: base64.b64encode(b"other").decode()}}]}
    bad = await client.post(f"{API}/workflows/import?on_conflict=rename", json=tampered, headers=other.headers)
    assert bad.status_code == 422
    assert "does not match its sha256" in bad.json()["error"]["message"]

    older = {
        **bundle,
        "workflows": [
            {
                **{k: v for k, v in entry.items() if k not in ("assets", "contents")},
                "draft": flow(name="Exported"),
                "versions": [],
            }
        ],
    }
    assert (
        await client.post(f"{API}/workflows/import?on_conflict=rename", json=older, headers=other.headers)
    ).status_code == 201


async def _agent(app: FastAPI, org_id: uuid.UUID, name: str) -> tuple[uuid.UUID, str]:
    async with app.state.db.transaction() as session:
        _, token = await create_enrolment_token(session, Actor(None, "test"), org_id)
        agent, key = await enroll(session, token, name=name)
        return agent.id, key


async def _held_by(app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], wid: str, agent: uuid.UUID) -> str:
    made = await client.post(f"{API}/executions", headers=headers, json={"workflow_id": wid})
    assert made.status_code == 201, made.text
    async with app.state.db.transaction() as session:
        execution = await session.get(Execution, uuid.UUID(made.json()["id"]))
        assert execution is not None
        execution.agent_id = agent  # as the dispatcher would have
        version = await session.get(WorkflowVersion, execution.version_id)
        assert version is not None
        assert await job_assets(session, version) == {
            path: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for path, data in JOB_FILES.items()
        }
    return str(made.json()["id"])


JOB_FILES = {"images/ok.png": png(), "logo.png": png((0, 0, 200))}


async def test_an_agent_reads_only_the_contents_of_the_version_it_runs(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner, stranger = await tenant(), await tenant()
    wid = (await create(client, owner.headers, "Fetched", clicks(*JOB_FILES)))["id"]
    assert (await upload(client, owner.headers, wid, JOB_FILES)).status_code == 201
    await publish(client, owner.headers, wid)
    unpublished = png((3, 3, 3))
    await upload(client, owner.headers, wid, {"later.png": unpublished})  # in the draft only
    mine, key = await _agent(app, owner.org_id, "runner")
    _other, other_key = await _agent(app, owner.org_id, "bystander")
    _far, far_key = await _agent(app, stranger.org_id, "elsewhere")
    execution = await _held_by(app, client, owner.headers, wid, mine)
    sha = hashlib.sha256(JOB_FILES["images/ok.png"]).hexdigest()
    url = f"{API}/agents/me/assets/{execution}/{sha}"

    got = await client.get(url, headers={"Authorization": f"Bearer {key}"})
    assert (got.status_code, got.content) == (200, JOB_FILES["images/ok.png"])
    for who in (other_key, far_key):
        refused = await client.get(url, headers={"Authorization": f"Bearer {who}"})
        assert refused.status_code == 404, refused.text
    draft_only = hashlib.sha256(unpublished).hexdigest()
    outside = await client.get(
        f"{API}/agents/me/assets/{execution}/{draft_only}", headers={"Authorization": f"Bearer {key}"}
    )
    assert outside.status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=owner.headers)).status_code == 401  # a user token is not an agent key


async def test_a_job_carries_its_sub_flows_files_which_only_its_agent_may_fetch(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    child_png, deeper_png, root_png = png((1, 200, 1)), png((1, 1, 200)), png((200, 1, 1))
    child_name, deeper_name = f"Child {uuid.uuid4().hex[:6]}", f"Deeper {uuid.uuid4().hex[:6]}"
    deeper = (await create(client, owner.headers, deeper_name, clicks("images/ok.png")))["id"]
    await upload(client, owner.headers, deeper, {"images/ok.png": deeper_png})
    await publish(client, owner.headers, deeper)
    child_doc = clicks("images/ok.png")
    child_doc["nodes"].append(call("deeper", deeper_name))
    child_doc["edges"].append({"from": "click_0", "to": "deeper"})
    child = (await create(client, owner.headers, child_name, child_doc))["id"]
    await upload(client, owner.headers, child, {"images/ok.png": child_png})
    await publish(client, owner.headers, child)
    root_doc = clicks("images/ok.png")
    root_doc["nodes"].append(call("sub", child_name))
    root_doc["edges"].append({"from": "click_0", "to": "sub"})
    root = (await create(client, owner.headers, f"Root {uuid.uuid4().hex[:6]}", root_doc))["id"]
    await upload(client, owner.headers, root, {"images/ok.png": root_png})
    await publish(client, owner.headers, root)
    mine, key = await _agent(app, owner.org_id, "runner")
    _other, other_key = await _agent(app, owner.org_id, "bystander")
    stranger = await tenant()
    stranger_wf = (await create(client, stranger.headers, child_name, clicks("images/ok.png")))["id"]
    unrelated = png((9, 9, 9))
    await upload(client, stranger.headers, stranger_wf, {"images/ok.png": unrelated})
    await publish(client, stranger.headers, stranger_wf)

    sent: list[Any] = []

    async def capture(message: Any) -> None:
        sent.append(message)

    async def close(_code: int, _reason: str) -> None:
        return None

    hub = app.state.agent_hub
    link = AgentLink(
        agent_id=mine,
        org_id=owner.org_id,
        name="runner",
        send=capture,
        close=close,
        capabilities=frozenset({"desktop"}),
        labels=frozenset(),
        steps=frozenset(),
        max_jobs=1,
    )
    hub.register(link)
    try:
        made = await client.post(f"{API}/executions", headers=owner.headers, json={"workflow_id": root})
        assert made.status_code == 201, made.text
        for _ in range(200):
            if sent:
                break
            hub.beat(link)
            await asyncio.sleep(0.02)
    finally:
        hub.unregister(link)

    (job,) = sent
    assert isinstance(job, JobAssign)
    assert sorted(job.subflows) == sorted([child_name, deeper_name])
    assert {path: a.sha256 for path, a in job.assets.items()} == {"images/ok.png": sha(root_png)}
    assert {name: {p: a.sha256 for p, a in files.items()} for name, files in job.subflow_assets.items()} == {
        child_name: {"images/ok.png": sha(child_png)},
        deeper_name: {"images/ok.png": sha(deeper_png)},
    }
    assert job.subflow_assets[child_name]["images/ok.png"].size == len(child_png)

    def url(content: bytes) -> str:
        return f"{API}/agents/me/assets/{job.execution_id}/{sha(content)}"

    for content in (root_png, child_png, deeper_png):
        got = await client.get(url(content), headers={"Authorization": f"Bearer {key}"})
        assert (got.status_code, got.content) == (200, content)
        refused = await client.get(url(content), headers={"Authorization": f"Bearer {other_key}"})
        assert refused.status_code == 404, refused.text
    # A workflow of the same name in another organisation is not this job's sub-flow.
    elsewhere = await client.get(url(unrelated), headers={"Authorization": f"Bearer {key}"})
    assert elsewhere.status_code == 404


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
