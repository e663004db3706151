"""No Chromium outlives its execution (ended, failed, cancelled) or its agent (even after kill -9)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from agent.steps.browser._runtime import stop_playwright_for_loop
from shared.engine import Engine, MemoryJournal
from shared.flow import Flow
from tests.agent.steps.browser.flows import chromium_pids, flow, start_rpa, wait_for_event, wait_gone, write_flow
from tests.agent.steps.browser.site import SiteServer

pytestmark = [pytest.mark.browser]

HOLD = {
    "id": "hold",
    "type": "browser.evaluate",
    "params": {"script": "new Promise(r => setTimeout(r, 60000))", "timeout_s": 120},
}


def opened(site: SiteServer, *more: dict[str, object]) -> Flow:
    nodes = [
        {"id": "open", "type": "browser.open", "params": {"url": site.url("/form")}},
        {"id": "tab", "type": "browser.new_tab", "params": {"session": "main", "url": site.url("/table")}},
        {"id": "second", "type": "browser.open", "params": {"session": "other", "url": site.url("/")}},
        *more,
    ]
    return Flow.model_validate(flow("lifecycle", nodes))


async def started(journal: MemoryJournal, node: str) -> None:
    """Wait until `node` has started (the journal is in memory: poll it)."""
    for _ in range(1200):
        if any(e.type == "node.started" and e.path == node for e in journal.read()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{node} did not start")


async def test_no_chromium_after_an_execution_ends_fails_or_is_cancelled(
    browser_site: SiteServer, tmp_path: Path
) -> None:
    me = os.getpid()
    engine = Engine(artifacts_dir=tmp_path)
    try:
        done = await engine.run(
            opened(browser_site, {"id": "read", "type": "browser.get_text", "params": {"target": "#next"}})
        )
        assert done.status == "succeeded", done.error
        assert chromium_pids(me) == set()

        failing = opened(browser_site, {"id": "boom", "type": "core.fail", "params": {"message": "bad data"}})
        failed = await engine.run(failing)
        assert failed.status == "failed"
        assert chromium_pids(me) == set()

        journal = MemoryJournal("to-cancel")
        running = asyncio.create_task(engine.run(opened(browser_site, HOLD), journal=journal))
        await started(journal, "hold")
        assert len(chromium_pids(me)) > 0
        assert engine.cancel("to-cancel")
        cancelled = await running
        assert cancelled.status == "cancelled"
        assert chromium_pids(me) == set()
    finally:
        await stop_playwright_for_loop()


def test_chromium_goes_when_its_agent_is_killed_with_sigkill(
    browser_site: SiteServer, tmp_path: Path, browser_state_dir: Path
) -> None:
    document = flow(
        "killed",
        [
            {"id": "open", "type": "browser.open", "params": {"url": browser_site.url("/form")}},
            {"id": "other", "type": "browser.open", "params": {"session": "other", "profile_dir": str(tmp_path / "p")}},
            HOLD,
        ],
    )
    path = write_flow(tmp_path, document)
    journal = tmp_path / "journal.db"
    agent = start_rpa(["run", str(path), "--json", "--journal", str(journal)], tmp_path, browser_state_dir)
    try:
        wait_for_event(journal, "node.started", "hold", agent)
        browsers = chromium_pids(agent.pid)
        assert len(browsers) >= 2, "Chromium should run below the agent while the flow holds"
        driver = {p.pid for p in psutil.Process(agent.pid).children() if "node" in p.name().lower()}
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(timeout=10)
        assert wait_gone(browsers | driver) == set()
    finally:
        if agent.poll() is None:
            agent.kill()
        agent.wait()
        assert agent.stdout is not None
        assert agent.stderr is not None
        agent.stdout.close()
        agent.stderr.close()
