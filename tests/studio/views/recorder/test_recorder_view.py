"""The recorder view for real: the recorder process with a headed Chromium under Xvfb, a person's
login through CDP, the actions listed live, reviewed, inserted as one undo step, a picked element
written into a node; the saved flow replays green with `rpa run`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.model import FlowDocument
from studio.views.recorder import PickController, RecorderView
from tests.agent.steps.browser.site import PASSWORD, USER, SiteServer
from tests.studio.views.debugger.conftest import QtLoop

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

RPA = str(Path(sys.executable).with_name("rpa"))
SHOTS = Path(__file__).resolve().parents[4] / "build" / "screenshots"


async def _until(check: Callable[[], Any], what: str, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {what} within {within} s")


def _has(view: RecorderView, step: str, text: str = "") -> bool:
    return any(n["type"] == step and text in json.dumps(n) for n in view.recording.nodes)


async def _log_in(view: RecorderView, endpoint: str) -> None:
    """Log in through CDP (real input events) as a person would, each action seen in the list first."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(endpoint)
        page = browser.contexts[0].pages[0]
        await page.click("#user")
        await _until(lambda: _has(view, "browser.click"), "click recorded")
        await page.keyboard.type(USER)
        await _until(lambda: _has(view, "browser.fill", f'"value": "{USER}"'), "user typed")
        await page.click("#password")
        await _until(lambda: _has(view, "browser.click", "Password"), "password click")
        await page.keyboard.type(PASSWORD)
        await _until(lambda: _has(view, "browser.fill", "erp.password"), "password typed")
        await page.click("#sign-in")
        await page.wait_for_selector("#welcome")
        await _until(lambda: _has(view, "browser.click", "Sign in"), "sign-in click")


async def _click_welcome_until_tested(view: RecorderView, endpoint: str) -> None:
    """Answer a pick: click the welcome text until the picked target was tested."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(endpoint)
        page = browser.contexts[0].pages[0]
        box = await page.locator("#welcome").bounding_box()
        assert box is not None
        for _ in range(60):  # the picker's overlay comes up asynchronously: click until it answers
            await page.mouse.move(box["x"] + 5, box["y"] + 5)
            await page.mouse.click(box["x"] + 5, box["y"] + 5)
            await asyncio.sleep(0.25)
            if any(e.get("event") == "tested" for e in view.process.events if view.process):
                return
        raise AssertionError("the picker never answered")


def test_a_recorded_login_is_inserted_picked_saved_and_replays_green(
    qtbot: Any, qtloop: QtLoop, display: str, site: SiteServer, tmp_path: Path
) -> None:
    document = FlowDocument(
        {
            "schema": "rpa.flow/1",
            "name": "Login",
            "outputs": {"welcome": "{{ steps.welcome.output }}"},
            "nodes": [
                {"id": "open", "type": "browser.open", "params": {"url": f"{site.base_url}/login"}},
                {"id": "welcome", "type": "browser.get_text", "params": {"target": "#to-be-picked"}},
                {"id": "close", "type": "browser.close", "params": {}},
            ],
            "edges": [{"from": "open", "to": "welcome"}, {"from": "welcome", "to": "close"}],
        }
    )
    state = str(tmp_path / "state")
    view = RecorderView(
        document,
        recorder_args=["--credential", "erp", "--cdp-port", "0"],
        env={"DISPLAY": display, "RPA_BROWSER_STATE_DIR": state},
    )
    qtbot.addWidget(view)
    view.resize(640, 420)
    picker = PickController(document, view)
    tested: list[int] = []
    picker.tested.connect(tested.append)
    try:
        assert view.url.text() == f"{site.base_url}/login"  # the flow's start page
        process = view.start()
        ready = qtloop.run(_until(lambda: process.ready, "ready event"))
        assert "Recording" in view.status.text()

        endpoint = ready["cdp_endpoint"]
        qtloop.run(asyncio.to_thread(asyncio.run, _log_in(view, endpoint)), timeout=90)
        assert view.list.count() == len(view.recording) >= 4, view.recording.nodes
        picker.pick("welcome", "$.params.target")
        qtloop.run(asyncio.to_thread(asyncio.run, _click_welcome_until_tested(view, endpoint)), timeout=60)
        qtloop.run(_until(lambda: tested, "tested event"))

        SHOTS.mkdir(parents=True, exist_ok=True)
        view.grab().save(str(SHOTS / "studio-recorder.png"))
        view.stop()
        qtloop.run(_until(lambda: not process.running, "the recorder to exit"))
    finally:
        view.close_process()

    # The picked target is in the node, tested live: exactly one match.
    target = document.node("welcome")["params"]["target"]
    assert isinstance(target, dict)
    assert "welcome" in json.dumps(target).lower()
    assert tested == [1]
    assert picker.match_count == 1
    assert "Stopped" in view.status.text()

    # Review: the first click into the user field is not needed.
    steps = [n["type"] for n in view.recording.nodes]
    assert steps[0] == "browser.click", view.recording.nodes
    assert "browser.fill" in steps
    view.list.setCurrentRow(0)
    view.remove_button.click()
    assert len(view.recording) == len(steps) - 1

    document.selection.select(["open"])
    before = document.to_text()
    ids = view.insert()
    assert document.undo_stack.undo_entry() is not None
    assert document.undo_stack.undo_entry().label == "Insert recorded steps"
    edges = {(e["from"], e["to"]) for e in document.raw["edges"]}
    assert {("open", ids[0]), (ids[-1], "welcome"), ("welcome", "close")} <= edges
    assert ("open", "welcome") not in edges
    assert PASSWORD not in document.to_text()
    document.undo()
    assert document.to_text() == before
    document.redo()

    flow = document.save(tmp_path / "login.json")
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"erp.password": PASSWORD}))
    env = {**os.environ, "RPA_BROWSER_STATE_DIR": state}
    env.pop("DISPLAY", None)  # the replay runs headless
    run = subprocess.run(
        [RPA, "run", str(flow), "--json", "--secrets", str(secrets)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"welcome": f"Welcome, {USER}"}


def test_a_recorder_without_a_display_says_so(qtbot: Any, qtloop: QtLoop, site: SiteServer) -> None:
    view = RecorderView(FlowDocument.new(), env={"DISPLAY": None})
    qtbot.addWidget(view)
    process = view.start(f"{site.base_url}/login")
    qtloop.run(_until(lambda: not process.running and view.record_button.isEnabled(), "the recorder to exit"))
    assert [e["kind"] for e in view.errors] == ["no_display"]
    assert "no_display" in view.status.text()
    assert "needs a display" in view.status.text()
    assert view.insert() == []
    assert "Nothing recorded" in view.status.text()


def test_a_pick_without_a_display_fails_with_the_reason(qtbot: Any, qtloop: QtLoop, site: SiteServer) -> None:
    document = FlowDocument(
        {
            "schema": "rpa.flow/1",
            "name": "Pick",
            "nodes": [
                {"id": "open", "type": "browser.open", "params": {"url": f"{site.base_url}/login"}},
                {"id": "press", "type": "browser.click", "params": {"target": "#old"}},
            ],
            "edges": [{"from": "open", "to": "press"}],
        }
    )
    view = RecorderView(document, env={"DISPLAY": None})
    qtbot.addWidget(view)
    picker = PickController(document, view)
    failures: list[str] = []
    picker.failed.connect(failures.append)

    picker.pick("press", "target")  # starts a recorder on the flow's start page

    assert view.process is not None
    assert view.process.url == f"{site.base_url}/login"
    qtloop.run(_until(lambda: failures, "the pick to fail"))
    assert failures[0].startswith("no_display:")
    assert document.node("press")["params"]["target"] == "#old"
