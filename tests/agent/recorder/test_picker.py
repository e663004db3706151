"""The element picker for real: `pick` answered by a click of the mouse in the recorder's headed
browser, `test_selector` counting and highlighting, healed selectors offered as fixes, a bad
command answered with an error while the recorder goes on, and the end of stdin stopping it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agent.recorder.conftest import RecorderProcess
from tests.agent.steps.browser.site import SiteServer

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

HEALED = {"kind": "healed", "old": "#login", "fallbacks": [], "new": "#sign-in", "score": 0.9, "runner_up": 0.3}


def _answer(recorder: RecorderProcess, event: str, command_id: str) -> Callable[[], dict[str, Any]]:
    return lambda: recorder.wait_for(
        lambda e: e["event"] == event and e.get("id") == command_id, f"{event} {command_id}"
    )


async def _pick_user_field(recorder: RecorderProcess, endpoint: str) -> dict[str, Any]:
    """Send `pick`, then click the user field with the mouse until the picker answers."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(endpoint)
        page = browser.contexts[0].pages[0]
        box = await page.locator("#user").bounding_box()
        assert box is not None
        recorder.send({"cmd": "pick", "id": "p1"})
        for _ in range(40):  # the picker's overlay comes up asynchronously: click until it answers
            await page.mouse.move(box["x"] + 5, box["y"] + 5)
            await page.mouse.click(box["x"] + 5, box["y"] + 5)
            await asyncio.sleep(0.25)
            picked = [e for e in recorder.events if e.get("id") == "p1"]
            if picked:
                # Playwright's picker turns recording off; the recorder turns it on again.
                await page.click("#password")
                await asyncio.to_thread(
                    recorder.wait_for,
                    lambda e: e["event"] == "action" and "Password" in json.dumps(e["node"]),
                    "a click recorded after the pick",
                )
                return picked[0]
        raise AssertionError(f"the picker never answered: {recorder.events}")


def test_pick_and_test_selector_find_the_clicked_element(
    start_recorder: Callable[..., RecorderProcess], site: SiteServer, tmp_path: Path
) -> None:
    journal = tmp_path / "events.json"
    journal.write_text(json.dumps([{"type": "node.note", "path": "sign_in", "data": HEALED}]))
    recorder = start_recorder(f"{site.base_url}/login", "--healed", str(journal))
    ready = recorder.wait_for(lambda e: e["event"] == "ready", "ready")
    fixes = recorder.wait_for(lambda e: e["event"] == "fixes", "fixes")
    assert [(f["node"], f["old"], f["new"]) for f in fixes["fixes"]] == [("sign_in", "#login", "#sign-in")]

    picked = asyncio.run(_pick_user_field(recorder, ready["cdp_endpoint"]))
    assert picked["event"] == "picked"
    target = picked["target"]
    assert target["selector"] == 'internal:role=textbox[name="User name"i]'
    assert "#user" in target["fallbacks"]
    assert target["fingerprint"]["id"] == "user"
    assert picked["count"] == 1

    recorder.send({"cmd": "test_selector", "id": "t1", "target": target})
    tested = _answer(recorder, "tested", "t1")()
    assert tested["count"] == 1
    assert tested["match"] == target["selector"]
    assert all(r["count"] == 1 for r in tested["results"])
    recorder.send({"cmd": "test_selector", "id": "t2", "selector": "input"})
    assert _answer(recorder, "tested", "t2")()["count"] == 2  # user name and password
    recorder.send({"cmd": "highlight", "id": "h1", "selector": "#sign-in"})
    assert _answer(recorder, "highlighted", "h1")()["count"] == 1

    recorder.send({"cmd": "test_selector", "id": "t3", "selector": "div["})
    error = _answer(recorder, "error", "t3")()
    assert error["kind"] == "invalid_selector"
    assert error["fatal"] is False
    recorder.send({"cmd": "jump", "id": "j1"})
    assert _answer(recorder, "error", "j1")()["kind"] == "bad_command"

    # The end of stdin (the studio went away) stops the recorder like `stop`.
    assert recorder.process.stdin is not None
    recorder.process.stdin.close()
    stopped = recorder.wait_for(lambda e: e["event"] == "stopped", "stopped")
    assert stopped["reason"] == "stdin_closed"
    assert stopped["nodes"] >= 1  # the click after the pick (a click before it may be recorded too)
    assert recorder.process.wait(30) == 0
