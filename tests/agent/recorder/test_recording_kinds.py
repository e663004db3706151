"""Every kind of action recorded for real and replayed: a select, a checkbox, a file chosen, an
address typed, a dialog, a popup tab and a download, in the recorder's headed browser."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agent.recorder.conftest import RecorderProcess
from tests.agent.steps.browser.site import SiteServer

pytestmark = [pytest.mark.browser, pytest.mark.desktop]

RPA = str(Path(sys.executable).with_name("rpa"))


def _recorded(recorder: RecorderProcess, step_type: str) -> Callable[[], Any]:
    def wait() -> dict[str, Any]:
        return recorder.wait_for(
            lambda e: e["event"] == "action" and e["node"]["type"] == step_type, f"a {step_type} node"
        )

    return lambda: asyncio.to_thread(wait)


async def _instrumented(page: Any) -> None:
    """Wait until Playwright's recorder watches `page` (its overlay element is in the page): a
    person cannot act faster than a page appears, a test can."""
    await page.wait_for_function("() => !!document.querySelector('x-pw-glass')")


async def _act(recorder: RecorderProcess, endpoint: str, base: str, upload: Path) -> None:
    """A person's session, each action recorded before the next.

    Playwright's recorder takes a navigation within 5 s of a click, key or typing for that
    action's effect (no `goto`), so addresses are typed after other actions, as a person would.
    """
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(endpoint)
        context = browser.contexts[0]
        page = context.pages[0]
        await _instrumented(page)
        await page.select_option("#country", "de")
        await _recorded(recorder, "browser.select_option")()
        await page.set_input_files("#attachment", str(upload))
        await _recorded(recorder, "browser.upload")()
        await page.click("#urgent")
        await _recorded(recorder, "browser.check")()
        await page.goto(f"{base}/popup")
        await _recorded(recorder, "browser.goto")()
        await _instrumented(page)
        async with context.expect_page() as opened:
            await page.click("#open-tab")
        popup = await opened.value
        await _instrumented(popup)
        await popup.click("#popup-title")
        await _recorded(recorder, "browser.switch_tab")()
        await popup.close()
        await _recorded(recorder, "browser.close_tab")()
        await page.goto(f"{base}/dialogs")
        await _recorded(recorder, "browser.goto")()
        await _instrumented(page)
        await page.click("#confirm")  # nobody answers: the dialog is dismissed
        await _recorded(recorder, "browser.handle_dialog")()
        tab = await context.new_page()
        await _recorded(recorder, "browser.new_tab")()
        await tab.goto(f"{base}/download")
        await _recorded(recorder, "browser.goto")()
        await _instrumented(tab)
        async with tab.expect_download():
            await tab.click("#csv")
        await _recorded(recorder, "browser.download")()
        # The person closes the browser window: the recording ends and is written.
        cdp = await browser.new_browser_cdp_session()
        await cdp.send("Browser.close")


def test_each_kind_of_action_is_recorded_and_replays(
    start_recorder: Callable[..., RecorderProcess], site: SiteServer, tmp_path: Path
) -> None:
    upload = tmp_path / "invoice.txt"
    upload.write_text("invoice 42\n")
    output = tmp_path / "kinds.json"
    recorder = start_recorder(f"{site.base_url}/form", "-o", str(output))
    ready = recorder.wait_for(lambda e: e["event"] == "ready", "ready")
    asyncio.run(_act(recorder, ready["cdp_endpoint"], site.base_url, upload))
    stopped = recorder.wait_for(lambda e: e["event"] == "stopped", "stopped")
    assert stopped["reason"] == "browser_closed"
    assert recorder.process.wait(30) == 0

    document = json.loads(output.read_text())
    nodes = {n["type"]: n for n in document["nodes"]}
    assert [n["type"] for n in document["nodes"]] == [
        "browser.open",
        "browser.select_option",
        "browser.upload",
        "browser.check",
        "browser.goto",
        "browser.click",
        "browser.switch_tab",
        "browser.click",
        "browser.close_tab",
        "browser.goto",
        "browser.handle_dialog",
        "browser.click",
        "browser.new_tab",
        "browser.goto",
        "browser.download",
        "browser.close",
    ]
    assert nodes["browser.select_option"]["params"]["value"] == "de"
    assert nodes["browser.upload"]["params"]["files"] == ["invoice.txt"]  # a browser never tells the path
    assert nodes["browser.handle_dialog"]["params"] == {"action": "dismiss"}
    assert nodes["browser.switch_tab"]["params"] == {"index": 1}
    assert nodes["browser.close_tab"]["params"] == {"index": 1}
    assert nodes["browser.download"]["params"]["target"]["fingerprint"]["id"] == "csv"

    document["outputs"] = {
        "selected": "{{ steps." + nodes["browser.select_option"]["id"] + ".output }}",
        "downloaded": "{{ steps." + nodes["browser.download"]["id"] + ".output.name }}",
    }
    output.write_text(json.dumps(document))
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["RPA_BROWSER_STATE_DIR"] = str(tmp_path / "state")
    run = subprocess.run(
        [RPA, "run", str(output), "--json"],
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
    assert result["outputs"] == {"selected": ["de"], "downloaded": "report.csv"}
