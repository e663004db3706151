"""The recorder for real: a headed Chromium under Xvfb, a person's input through CDP, a login
recorded, the nodes replayed green by `rpa run`, the password nowhere in what was written."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agent.recorder.conftest import RecorderProcess
from tests.agent.steps.browser.site import PASSWORD, USER, SiteServer

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

RPA = str(Path(sys.executable).with_name("rpa"))


def _node(event: dict[str, Any], step_type: str, **params: Any) -> bool:
    if event["event"] != "action" or event["node"]["type"] != step_type:
        return False
    return all(event["node"]["params"].get(k) == v for k, v in params.items())


async def _wait(recorder: RecorderProcess, match: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    return await asyncio.to_thread(recorder.wait_for, match, what)


async def _log_in(recorder: RecorderProcess, endpoint: str) -> None:
    """Log in as a person would, waiting for each action to be recorded before the next."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(endpoint)
        page = browser.contexts[0].pages[0]
        await page.click("#user")
        await _wait(recorder, lambda e: _node(e, "browser.click"), "the click in the user field")
        await page.keyboard.type(USER)
        await _wait(recorder, lambda e: _node(e, "browser.fill", value=USER), "the user name typed")
        await page.click("#password")
        await _wait(recorder, lambda e: _node(e, "browser.click") and "Password" in str(e["node"]), "password click")
        await page.keyboard.type(PASSWORD)
        await _wait(recorder, lambda e: _node(e, "browser.fill", credential="erp.password"), "the password typed")
        await page.click("#sign-in")
        await page.wait_for_selector("#welcome")
        await _wait(recorder, lambda e: _node(e, "browser.click") and "Sign in" in str(e["node"]), "the sign-in")


def _with_check(document: dict[str, Any]) -> dict[str, Any]:
    """The recorded flow with a read of the welcome text before `browser.close`, as its output."""
    nodes = document["nodes"]
    nodes.insert(len(nodes) - 1, {"id": "welcome", "type": "browser.get_text", "params": {"target": "#welcome"}})
    document["edges"] = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    document["outputs"] = {"welcome": "{{ steps.welcome.output }}"}
    return document


def test_a_recorded_login_replays_green_and_never_holds_the_password(
    start_recorder: Callable[..., RecorderProcess], site: SiteServer, tmp_path: Path
) -> None:
    output = tmp_path / "recorded" / "login.json"
    recorder = start_recorder(
        f"{site.base_url}/login", "-o", str(output), "--screenshots", "--credential", "erp", "--verbose"
    )
    ready = recorder.wait_for(lambda e: e["event"] == "ready", "ready")
    assert ready["protocol"] == 1
    assert ready["cdp_endpoint"].startswith("http://127.0.0.1:")
    asyncio.run(_log_in(recorder, ready["cdp_endpoint"]))
    stopped = recorder.stop()
    recorder.kill()  # closes the pipes: its whole stderr is read

    assert recorder.events[0]["event"] == "ready"
    assert stopped == {"event": "stopped", "reason": "stop", "nodes": 5, "output": str(output)}
    assert recorder.process.returncode == 0
    document = json.loads(output.read_text())
    assert [n["type"] for n in document["nodes"]] == [
        "browser.open",
        "browser.click",
        "browser.fill",
        "browser.click",
        "browser.fill",
        "browser.click",
        "browser.close",
    ]
    user, password, sign_in = document["nodes"][2], document["nodes"][4], document["nodes"][5]
    assert user["params"]["value"] == USER
    assert "#user" in user["params"]["target"]["fallbacks"]  # ranked fallbacks from the live element
    assert password["params"]["credential"] == "erp.password"
    assert "value" not in password["params"]
    assert sign_in["params"]["target"]["fingerprint"]["id"] == "sign-in"  # fingerprinted before it navigated
    screenshot = output.parent / user["params"]["target"]["fingerprint"]["screenshot"]
    assert screenshot.read_bytes().startswith(b"\x89PNG")

    written = [p for p in tmp_path.rglob("*") if p.is_file() and "state" not in p.parts]
    assert output in written
    assert screenshot in written
    for path in written:
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert all(PASSWORD not in line for line in recorder.lines)
    assert "DEBUG" in recorder.stderr  # diagnostics were on, and still no password
    assert PASSWORD not in recorder.stderr

    flow = tmp_path / "replay.json"
    flow.write_text(json.dumps(_with_check(document)))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"erp.password": PASSWORD}))
    env = {**os.environ, "RPA_BROWSER_STATE_DIR": str(tmp_path / "state")}
    env.pop("DISPLAY", None)  # the replay runs headless
    checked = subprocess.run([RPA, "validate", str(flow)], capture_output=True, text=True, env=env, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
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
    assert PASSWORD not in run.stdout + run.stderr
