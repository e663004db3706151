"""A browser session resumes on another agent: agent A logs in and is killed with SIGKILL; agent B,
with its own home, takes the execution and its next step sees the logged-in page, with the
HttpOnly cookie the orchestrator kept sealed for it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.states import TERMINAL_STATES
from tests.agent.steps.browser.flows import alive, chromium_pids, wait_gone
from tests.agent.steps.browser.site import PASSWORD, USER, SiteServer
from tests.e2e._cluster import Agent, Orchestrator, completed_twice, gapless, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def login_flow(site: SiteServer) -> dict[str, Any]:
    nodes = [
        {"id": "open", "type": "browser.open", "params": {"url": site.url("/login")}},
        {"id": "user", "type": "browser.fill", "params": {"target": "#user", "value": USER}},
        {"id": "password", "type": "browser.fill", "params": {"target": "#password", "value": PASSWORD}},
        {"id": "login", "type": "browser.click", "params": {"target": "#sign-in"}},
        {"id": "tab", "type": "browser.new_tab", "params": {"url": site.url("/form")}},
        {"id": "back", "type": "browser.switch_tab", "params": {"index": 0}},
        # Agent A is killed while this waits; agent B runs it again (at-least-once), then reads the page.
        {"id": "hold", "type": "browser.evaluate", "params": {"script": "new Promise(r => setTimeout(r, 4000))"}},
        {"id": "welcome", "type": "browser.get_text", "params": {"target": "#welcome", "timeout_s": 5}},
        {"id": "where", "type": "browser.evaluate", "params": {"script": "location.pathname"}},
        {"id": "tabs", "type": "browser.switch_tab", "params": {"url": "*/form"}},
    ]
    return {
        "schema": "rpa.flow/1",
        "name": "resume-elsewhere",
        "requires": ["browser"],
        "nodes": nodes,
        "edges": [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)],
        "outputs": {
            "welcome": "{{ steps.welcome.output }}",
            "path": "{{ steps.where.output }}",
            "tabs": "{{ steps.tabs.output.tabs }}",
        },
    }


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as served:
        yield served


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _succeeded(server: Orchestrator, execution: str, node: str) -> bool:
    return any(e["type"] == "node.succeeded" and e["path"] == node for e in server.events(execution))


@pytest.mark.timeout(300)
def test_a_session_killed_on_one_agent_goes_on_logged_in_on_another(tmp_path: Path, site: SiteServer) -> None:
    server = Orchestrator(tmp_path, grace_s=3.0)
    first: Agent | None = None
    second: Agent | None = None
    try:
        server.start()
        server.setup_owner()
        first = Agent(tmp_path, server, "first")
        second = Agent(tmp_path, server, "second")  # enrolled now, started once the first is gone
        first.start()
        first.wait_online()
        execution = server.start_execution(server.publish(login_flow(site)))
        wait_for(lambda: _succeeded(server, execution, "back"), 90, "the login and the second tab journaled")
        assert first.process is not None
        browsers = chromium_pids(first.process.pid)
        assert browsers, "agent A runs Chromium"
        sealed = [p for p in (server.data_dir / "artifacts" / "_session-checkpoints").rglob("*") if p.is_file()]
        assert sealed, "the orchestrator keeps the session's state"
        (sid,) = site._server.sessions  # the login cookie's value
        assert _files_holding(server.data_dir, sid.encode()) == [], "the state is sealed at rest"

        first.kill()
        assert wait_gone(browsers) == set(), "no Chromium outlives the agent killed with SIGKILL"
        second.start()
        done = server.wait_state(execution, TERMINAL_STATES, timeout=120)
        assert done["state"] == "succeeded", done
        assert done["outputs"] == {"welcome": f"Welcome, {USER}", "path": "/account", "tabs": 2}
        assert done["attempt"] >= 2  # a loaded machine may make agent B miss its lease once, and reclaim it

        events = server.events(execution)
        assert gapless(events)
        assert completed_twice(events) == []
        assert [e["data"] for e in events if e["type"] == "node.note" and e["data"].get("kind") == "browser.restored"]
        assert second.process is not None
        wait_for(lambda: not chromium_pids(second.process.pid), 30, "agent B's Chromium closed at the end")
        wait_for(lambda: not [p for p in sealed if p.exists()], 30, "the sealed state deleted at the end")

        needle = sid.encode()
        assert needle not in repr(events).encode(), "a cookie value reached the journal"
        assert _files_holding(server.data_dir, needle) == [], "the orchestrator's files hold the cookie in clear"
        # The engine journals the end before it closes the execution's browser sessions, and each
        # session deletes its checkpoint as it closes: the orchestrator may say "succeeded" first.
        wait_for(lambda: not _files_holding(second.home, needle), 30, "agent B's home rid of the cookie at the end")
        logs = list(tmp_path.glob("*.log"))
        assert len(logs) == 3  # the orchestrator's and both agents'
        assert all(needle not in p.read_bytes() for p in logs), "a cookie value reached a log"
    finally:
        for agent in (first, second):
            if agent is not None:
                pids = chromium_pids(agent.process.pid) if agent.running and agent.process else set()
                agent.stop()
                wait_gone(pids)
        server.stop()
    assert not alive(browsers)
