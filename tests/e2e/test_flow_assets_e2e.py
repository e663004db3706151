"""A flow with files next to it, published with `rpa workflow push` and run by a real agent with
a fresh home: the agent fetches the version's files over its own HTTP channel, checks them and
lays them out for the execution, where the step finds them. A second version with another image
runs with that image, and an execution of a version whose file the agent cannot get fails naming it.
The flow calls a published sub-flow by name, whose step reads a file of the same name from the
sub-flow's own files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e._cluster import EMAIL, PASSWORD, Agent, Orchestrator

pytestmark = pytest.mark.slow

RPA = str(Path(sys.executable).parent / "rpa")
ROOT = Path(__file__).resolve().parents[2]


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


CHILD = "Read the sub-flow's button image"


def flow() -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": "Read the button image",
        "nodes": [
            {"id": "read", "type": "probe.read_asset", "params": {"path": "images/ok-button.png"}},
            {"id": "call", "type": "flow.call", "params": {"flow": CHILD}},
        ],
        "edges": [{"from": "read", "to": "call"}],
        "outputs": {"image": "{{ steps.read.output }}", "child": "{{ steps.call.output.image }}"},
    }


def child_flow() -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": CHILD,
        "nodes": [{"id": "read", "type": "probe.read_asset", "params": {"path": "images/ok-button.png"}}],
        "edges": [],
        "outputs": {"image": "{{ steps.read.output }}"},
    }


def rpa(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "RPA_STEP_MODULES": "tests.e2e.probe_steps:STEPS",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("RPA_TOKEN", None)
    return subprocess.run([RPA, *args], capture_output=True, text=True, env=env, timeout=120, cwd=home)


def test_a_published_flow_runs_on_an_agent_with_the_files_it_names(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    (folder / "images").mkdir(parents=True)
    document = folder / "flow.json"
    document.write_text(json.dumps(flow()), encoding="utf-8")
    first, second, child_image = png((200, 20, 20)), png((20, 200, 20)), png((20, 20, 200))
    (folder / "child" / "images").mkdir(parents=True)
    child_document = folder / "child" / "flow.json"
    child_document.write_text(json.dumps(child_flow()), encoding="utf-8")
    (folder / "child" / "images" / "ok-button.png").write_bytes(child_image)
    home = tmp_path / "cli-home"
    home.mkdir()

    # Without the file next to it, the flow is refused before anything is sent.
    refused = rpa("validate", str(document), home=home)
    assert refused.returncode == 2
    assert "$.nodes[0].params.path: asset 'images/ok-button.png' is not a file in" in refused.stderr

    orchestrator = Orchestrator(tmp_path)
    try:
        orchestrator.start()
        orchestrator.setup_owner()
        orchestrator.login()
        logged = rpa("login", orchestrator.url, "--email", EMAIL, "--password", PASSWORD, home=home)
        assert logged.returncode == 0, logged.stderr
        pushed_child = rpa("workflow", "push", str(child_document), "--publish", home=home)
        assert pushed_child.returncode == 0, pushed_child.stdout + pushed_child.stderr
        (folder / "images" / "ok-button.png").write_bytes(first)
        pushed = rpa("workflow", "push", str(document), "--publish", "--note", "first", home=home)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "1 asset(s): images/ok-button.png" in pushed.stdout
        assert "published version 1" in pushed.stdout
        workflow = orchestrator.api("GET", "/workflows", params={"q": "Read the button image"})["items"][0]["id"]

        agent = Agent(tmp_path, orchestrator, "fresh")
        try:
            agent.start()
            agent.wait_online()
            one = orchestrator.start_execution(workflow)
            done_one = orchestrator.wait_state(one, {"succeeded", "failed"})

            (folder / "images" / "ok-button.png").write_bytes(second)
            again = rpa("workflow", "push", str(document), "--publish", home=home)
            assert "published version 2" in again.stdout, again.stdout + again.stderr
            two = orchestrator.start_execution(workflow)
            done_two = orchestrator.wait_state(two, {"succeeded", "failed"})
            pinned_one = orchestrator.start_execution(workflow, version=1)
            done_pinned = orchestrator.wait_state(pinned_one, {"succeeded", "failed"})
        finally:
            agent.stop()
    finally:
        orchestrator.stop()

    assert done_one["state"] == "succeeded", done_one
    image = done_one["outputs"]["image"]
    assert (image["sha256"], image["size"]) == (hashlib.sha256(first).hexdigest(), len(first))
    # Laid out inside the agent's home, for that execution alone.
    assert Path(image["flow_dir"]).is_relative_to(agent.home)
    assert one in image["flow_dir"]
    # The sub-flow read its own file, from a folder of its own beside the execution's.
    child = done_one["outputs"]["child"]
    assert child["sha256"] == hashlib.sha256(child_image).hexdigest()
    assert Path(child["flow_dir"]).is_relative_to(agent.home / "flows" / f"{one}.subflows")
    assert done_two["outputs"]["image"]["sha256"] == hashlib.sha256(second).hexdigest()
    assert done_pinned["outputs"]["image"]["sha256"] == hashlib.sha256(first).hexdigest()
    cached = sorted(p.name for p in (agent.home / "assets").rglob("*") if p.is_file())
    assert cached == sorted(hashlib.sha256(b).hexdigest() for b in (first, second, child_image))
