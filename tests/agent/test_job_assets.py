"""The agent's side of flow assets: contents fetched from a real HTTP server on loopback, checked
by hash and size, cached by hash (bounded, least recently used out first) and laid out in the
execution's own folder, each sub-flow's files in a folder of that sub-flow."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.outbox import Outbox
from agent.runtime._assets import AssetCache, AssetFetchError, flow_dir_of, prepare_assets, subflow_dir_of
from agent.runtime._config import AgentConfig
from agent.runtime._jobs import JobRunner
from shared.protocol import FlowAsset, JobAccepted, JobAssign
from shared.steps import StepRegistry
from shared.steps.builtin import BUILTIN_STEPS
from tests.e2e import probe_steps

KEY = "rpa_ak_test-key"


class Served:
    """What the fake orchestrator route serves: sha256 -> (status, body); the requests it saw."""

    def __init__(self) -> None:
        self.blobs: dict[str, tuple[int, bytes]] = {}
        self.requests: list[tuple[str, str]] = []


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Served]]:
    served = Served()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append((self.path, self.headers.get("Authorization", "")))
            status, body = served.blobs.get(self.path.rsplit("/", 1)[-1], (404, b'{"error": {}}'))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def ref(data: bytes) -> FlowAsset:
    return FlowAsset(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


async def test_assets_are_fetched_once_checked_and_laid_out_per_execution(
    server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = server
    ok, logo = b"\x89PNG\r\n\x1a\nok-button", b"\x89PNG\r\n\x1a\nlogo"
    for data in (ok, logo):
        served.blobs[ref(data).sha256] = (200, data)
    cache = AssetCache(tmp_path / "home" / "assets")
    assets = {"images/ok.png": ref(ok), "logo.png": ref(logo), "copy/ok.png": ref(ok)}
    served.requests.clear()

    folder = await prepare_assets(url, KEY, tmp_path / "home", "exec-1", assets, cache)

    assert folder == flow_dir_of(tmp_path / "home", "exec-1")
    assert (folder / "images" / "ok.png").read_bytes() == ok
    assert (folder / "copy" / "ok.png").read_bytes() == ok
    assert (folder / "logo.png").read_bytes() == logo
    paths = sorted(path for path, _ in served.requests)
    assert paths == sorted(f"/api/v1/agents/me/assets/exec-1/{ref(d).sha256}" for d in (ok, logo))
    assert {auth for _, auth in served.requests} == {f"Bearer {KEY}"}

    # Another execution of the same version: nothing fetched again, its own folder.
    served.requests.clear()
    other = await prepare_assets(url, KEY, tmp_path / "home", "exec-2", assets, cache)
    assert served.requests == []
    assert (other / "images" / "ok.png").read_bytes() == ok
    # A step writing to its copy does not reach the cache.
    (other / "logo.png").write_bytes(b"scribbled")
    assert cache.path_of(ref(logo).sha256).read_bytes() == logo


async def test_an_asset_that_cannot_be_had_is_named(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    cache = AssetCache(tmp_path / "assets")
    gone = ref(b"never uploaded")
    with pytest.raises(AssetFetchError, match=r"asset 'images/gone\.png' could not be fetched .*HTTP 404"):
        await prepare_assets(url, KEY, tmp_path, "exec-3", {"images/gone.png": gone}, cache)

    wrong = ref(b"the real bytes")
    served.blobs[wrong.sha256] = (200, b"other bytes!!!")  # same length, another content
    with pytest.raises(AssetFetchError, match="arrived with another hash"):
        await prepare_assets(url, KEY, tmp_path, "exec-4", {"a.png": wrong}, cache)
    assert cache.get(wrong.sha256) is None

    short = ref(b"twelve bytes")
    served.blobs[short.sha256] = (200, b"short")
    with pytest.raises(AssetFetchError, match=r"asset 'b\.png' arrived with 5 bytes, 12 expected"):
        await prepare_assets(url, KEY, tmp_path, "exec-5", {"b.png": short}, cache)


async def test_a_path_leaving_the_folder_is_refused(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    data = b"x"
    served.blobs[ref(data).sha256] = (200, data)
    with pytest.raises(AssetFetchError, match="not a relative path inside"):
        await prepare_assets(url, KEY, tmp_path, "exec-6", {"../outside.png": ref(data)}, AssetCache(tmp_path / "c"))
    assert not (tmp_path / "flows" / "outside.png").exists()


def test_the_cache_keeps_the_most_recently_used_within_its_bound(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path, max_bytes=250)
    contents = [bytes([i]) * 100 for i in range(3)]
    hashes = [hashlib.sha256(c).hexdigest() for c in contents]
    now = time.time()
    for age, (sha, data) in enumerate(zip(hashes, contents, strict=True)):
        path = cache.put(sha, data)
        os.utime(path, (now - 100 + age, now - 100 + age))  # 0 oldest, 2 newest
    assert cache.get(hashes[0]) is not None  # a use makes 0 the newest

    assert cache.evict() == [hashes[1]]
    assert [cache.get(h) is not None for h in hashes] == [True, False, True]

    cache.max_bytes = 50
    assert cache.evict(keep={hashes[2], hashes[0]}) == []  # what a job needs now stays
    with pytest.raises(AssetFetchError, match="another hash"):
        cache.put(hashes[1], b"not it")


async def test_a_job_whose_asset_cannot_be_had_ends_failed_naming_it(
    server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = server
    served.blobs[ref(b"fine").sha256] = (200, b"fine")
    config = AgentConfig(url=url, key=KEY, name="runner", home=tmp_path / "home")
    config.home.mkdir()
    flow = {
        "schema": "rpa.flow/1",
        "name": "Clicks",
        "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
        "edges": [],
    }
    job = JobAssign(
        execution_id="exec-fail",
        attempt=1,
        flow=flow,
        inputs={},
        assets={"fine.png": ref(b"fine"), "images/gone.png": ref(b"never uploaded")},
    )
    with Outbox(tmp_path / "outbox.db") as outbox:
        runner = JobRunner(config, StepRegistry.default(), outbox, lambda: None, lambda *_: None, lambda: None)
        assert isinstance(runner.take(job), JobAccepted)
        await asyncio.wait_for(asyncio.gather(*runner.tasks.values()), 30)
        events = outbox.events("exec-fail")
        record = outbox.job("exec-fail")

    assert [e.type for e in events] == ["execution.started", "execution.finished"]
    finished = events[-1].data
    assert finished["status"] == "failed"
    assert finished["error"]["kind"] == "assets"
    assert "asset 'images/gone.png' could not be fetched" in finished["error"]["message"]
    assert record is not None
    assert record.finished


async def test_each_sub_flow_of_a_job_runs_with_its_own_files(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    root_png, child_png = b"\x89PNG\r\n\x1a\nroot's", b"\x89PNG\r\n\x1a\nchild's"
    for data in (root_png, child_png):
        served.blobs[ref(data).sha256] = (200, data)
    config = AgentConfig(url=url, key=KEY, name="runner", home=tmp_path / "home")
    config.home.mkdir()

    def reader(name: str, *nodes: dict[str, Any], **outputs: str) -> dict[str, Any]:
        read = {"id": "read", "type": "probe.read_asset", "params": {"path": "images/ok.png"}}
        ids = ["read", *(node["id"] for node in nodes)]
        return {
            "schema": "rpa.flow/1",
            "name": name,
            "nodes": [read, *nodes],
            "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)],
            "outputs": {"read": "{{ steps.read.output }}", **outputs},
        }

    job = JobAssign(
        execution_id="exec-subflows",
        attempt=1,
        flow=reader(
            "Root",
            {"id": "call", "type": "flow.call", "params": {"flow": "Child"}},
            {"id": "plain", "type": "flow.call", "params": {"flow": "No files"}},
            child="{{ steps.call.output.read }}",
            plain="{{ steps.plain.output.where }}",
        ),
        subflows={
            "Child": reader("Child"),
            "No files": {
                "schema": "rpa.flow/1",
                "name": "No files",
                "nodes": [{"id": "noop", "type": "core.noop", "params": {"value": 1}}],
                "edges": [],
                "outputs": {"where": "done"},
            },
        },
        inputs={},
        assets={"images/ok.png": ref(root_png)},
        subflow_assets={"Child": {"images/ok.png": ref(child_png)}},
    )
    registry = StepRegistry([*BUILTIN_STEPS, *probe_steps.STEPS])
    with Outbox(tmp_path / "outbox.db") as outbox:
        runner = JobRunner(config, registry, outbox, lambda: None, lambda *_: None, lambda: None)
        assert isinstance(runner.take(job), JobAccepted)
        await asyncio.wait_for(asyncio.gather(*runner.tasks.values()), 30)
        finished = outbox.events("exec-subflows")[-1].data

    assert finished["status"] == "succeeded", finished
    outputs = finished["outputs"]
    assert outputs["read"]["sha256"] == ref(root_png).sha256
    assert outputs["read"]["flow_dir"] == str(flow_dir_of(config.home, "exec-subflows"))
    assert outputs["child"]["sha256"] == ref(child_png).sha256
    assert outputs["child"]["flow_dir"] == str(subflow_dir_of(config.home, "exec-subflows", "Child"))
    assert outputs["plain"] == "done"
    # Ended: the laid-out files of the execution and of its sub-flows are gone, the cache keeps them.
    assert not (config.home / "flows").exists() or not any((config.home / "flows").iterdir())
    assert AssetCache(config.home / "assets").get(ref(child_png).sha256) is not None


def test_sub_flow_folders_are_safe_and_distinct_for_any_name(tmp_path: Path) -> None:
    names = ["Invoices", "a/../../etc", "A b:c*?", "", "Invoices "]
    folders = [subflow_dir_of(tmp_path, "exec", name) for name in names]

    assert len(set(folders)) == len(names)
    base = tmp_path / "flows" / "exec.subflows"
    assert all(folder.parent == base and folder.name not in ("", ".", "..") for folder in folders)
    assert folders[0].name.startswith("Invoices-")
    assert flow_dir_of(tmp_path, "exec") not in [*folders, *(f.parent for f in folders)]
