"""Desktop steps inside flows: `rpa validate` checks targets and key names, the desktop lock
serialises parallel branches, and the example template runs with `rpa run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.engine import Engine, MemoryJournal
from shared.flow import Flow
from tests.agent.steps.desktop.conftest import Display, FormApp

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "resources" / "templates" / "desktop_form.json"
RPA = [sys.executable, "-m", "cli"]


def rpa(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RPA, *args], capture_output=True, text=True, timeout=90, cwd=cwd, env=env or dict(os.environ), check=False
    )


def test_rpa_validate_reports_bad_targets_and_key_names_at_their_json_path(tmp_path: Path) -> None:
    flow = {
        "schema": "rpa.flow/1",
        "name": "bad targets",
        "nodes": [
            {"id": "a", "type": "desktop.click", "params": {"target": "image:ok.png >> offset:10"}},
            {"id": "b", "type": "desktop.drag", "params": {"target": "point:1,1", "to": "region:5,5,1,1"}},
            {"id": "c", "type": "desktop.hotkey", "params": {"keys": ["ctrl", "shfit"]}},
            {"id": "d", "type": "desktop.click", "params": {"target": "{{ inputs.anything }}"}},
        ],
    }
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))

    done = rpa("validate", str(path), "--json")

    assert done.returncode == 2, done.stderr
    problems = {p["path"]: p["message"] for p in json.loads(done.stdout)["problems"]}
    assert set(problems) == {"$.nodes[0].params.target", "$.nodes[1].params.to", "$.nodes[2].params.keys[1]"}
    assert "offset: takes 2 integers" in problems["$.nodes[0].params.target"]
    assert "at column 24" in problems["$.nodes[0].params.target"]
    assert "right must exceed left" in problems["$.nodes[1].params.to"]
    assert "unknown key name 'shfit' (did you mean shift" in problems["$.nodes[2].params.keys[1]"]


@pytest.mark.desktop
async def test_the_desktop_lock_serialises_two_parallel_branches(form_app: FormApp) -> None:
    def typing(node_id: str, char: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": "desktop.type",
            "params": {"text": char * 12, "interval_s": 0.01, **extra},
        }

    flow = Flow.model_validate(
        {
            "schema": "rpa.flow/1",
            "name": "two branches",
            "nodes": [
                {"id": "focus", "type": "desktop.click", "params": {"target": "point:150,35", "window": "RPA Test*"}},
                typing("left", "a"),
                typing("right", "b"),
                {"id": "join", "type": "core.noop"},
            ],
            "edges": [
                {"from": "focus", "to": "left"},
                {"from": "focus", "to": "right"},
                {"from": "left", "to": "join"},
                {"from": "right", "to": "join"},
            ],
        }
    )
    journal = MemoryJournal("lock-test")
    result = await Engine().run(flow, journal=journal)

    assert result.status == "succeeded", result.error
    state = form_app.wait_for(lambda s: len(s["entry"]) == 24)
    assert state["entry"] in ("a" * 12 + "b" * 12, "b" * 12 + "a" * 12)
    spans = [
        (event.type, event.path)
        for event in journal.read()
        if event.path in ("left", "right") and event.type in ("node.started", "node.succeeded")
    ]
    first, second = spans[0][1], spans[2][1]
    assert spans == [
        ("node.started", first),
        ("node.succeeded", first),
        ("node.started", second),
        ("node.succeeded", second),
    ]


def _template_flow(folder: Path) -> Path:
    document = json.loads(TEMPLATE.read_text())["flow"]
    path = folder / "desktop_form.json"
    path.write_text(json.dumps(document))
    return path


def test_the_template_is_a_valid_flow(tmp_path: Path) -> None:
    done = rpa("validate", str(_template_flow(tmp_path)), "--json")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.desktop
@pytest.mark.ocr
def test_the_template_runs_with_rpa_run_and_an_image_next_to_the_flow(
    form_app: FormApp, xvfb: Display, tmp_path: Path
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(form_app.button_png, folder / "submit.png")
    flow = _template_flow(folder)
    done = rpa(
        "run",
        str(flow),
        "--json",
        "-i",
        "window=RPA Test*",
        "-i",
        "text=ACME Ltd",
        "-i",
        "submit=image:submit.png",
        cwd=folder,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert (result["outputs"]["clicked"]["left"], result["outputs"]["clicked"]["top"]) == (502, 102)
    # The default confirmation, ocr:"pressed", read the status label the click changed.
    state = form_app.wait_for(lambda s: s["image_clicks"] == 1)
    assert state["entry"] == "ACME Ltd"
    shots = list((folder / ".rpa-artifacts").rglob("form.png"))
    assert len(shots) == 1
