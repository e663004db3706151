"""A flow killed mid-session resumes on the right page with its HttpOnly login cookie."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.agent.steps.browser.flows import journal_events, start_rpa, wait_for_event, write_flow
from tests.agent.steps.browser.site import PASSWORD, USER, SiteServer

pytestmark = [pytest.mark.browser]


def login_flow(site: SiteServer, on_resume: str = "restore") -> dict[str, object]:
    nodes = [
        {"id": "open", "type": "browser.open", "params": {"url": site.url("/login"), "on_resume": on_resume}},
        {"id": "user", "type": "browser.fill", "params": {"target": "#user", "credential": "erp_user"}},
        {"id": "password", "type": "browser.fill", "params": {"target": "#password", "credential": "erp_password"}},
        {"id": "login", "type": "browser.click", "params": {"target": "#sign-in"}},
        # Killed while this runs; on resume it runs again (at-least-once), then the page is read.
        {"id": "hold", "type": "browser.evaluate", "params": {"script": "new Promise(r => setTimeout(r, 1500))"}},
        {"id": "welcome", "type": "browser.get_text", "params": {"target": "#welcome", "timeout_s": 5}},
        {"id": "where", "type": "browser.evaluate", "params": {"script": "location.pathname"}},
        {"id": "cookies", "type": "browser.get_cookies", "params": {}},
    ]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {
        "schema": "rpa.flow/1",
        "name": "resume-login",
        "requires": ["browser"],
        "nodes": nodes,
        "edges": edges,
        "outputs": {
            "welcome": "{{ steps.welcome.output }}",
            "path": "{{ steps.where.output }}",
            "cookies": "{{ steps.cookies.output }}",
        },
    }


def test_a_flow_killed_after_login_resumes_on_its_page_with_the_cookie(
    browser_site: SiteServer, tmp_path: Path
) -> None:
    browser_state_dir = tmp_path / "agent-state"
    path = write_flow(tmp_path, login_flow(browser_site))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"erp_user": USER, "erp_password": PASSWORD}))
    journal = tmp_path / "journal.db"
    args = ["run", str(path), "--json", "--journal", str(journal), "--secrets", str(secrets)]

    first = start_rpa(args, tmp_path, browser_state_dir)
    try:
        wait_for_event(journal, "node.succeeded", "login", first)
        wait_for_event(journal, "node.started", "hold", first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert ("node.succeeded", "welcome") not in journal_events(journal)
    checkpoints = list(browser_state_dir.rglob("*.json"))
    assert checkpoints, "the session's state should wait for the resume"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in checkpoints)

    second = start_rpa([*args, "--resume"], tmp_path, browser_state_dir)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "succeeded"
    assert result["outputs"]["welcome"] == "Welcome, ann"
    assert result["outputs"]["path"] == "/account"
    assert [(c["name"], c["http_only"]) for c in result["outputs"]["cookies"]] == [("sid", True)]
    events = journal_events(journal)
    assert ("node.note", "hold") in events  # browser.restored, on the first step after the resume
    assert events.count(("node.succeeded", "login")) == 1
    logged_in = list(browser_site._server.sessions)
    assert logged_in
    raw = journal.read_bytes() + b"".join(p.read_bytes() for p in journal.parent.glob("journal.db*"))
    assert all(sid.encode() not in raw for sid in logged_in), "a cookie value reached the journal"
    assert PASSWORD.encode() not in raw
    assert list(browser_state_dir.rglob("*.json")) == [], "the checkpoint goes when the execution ends"


def _killed_after_login(site: SiteServer, tmp_path: Path, on_resume: str) -> tuple[list[str], Path, Path]:
    """Run the login flow until `hold` runs, kill it with SIGKILL, and lose the session's state."""
    state_dir = tmp_path / "agent-state"
    path = write_flow(tmp_path, login_flow(site, on_resume))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"erp_user": USER, "erp_password": PASSWORD}))
    journal = tmp_path / "journal.db"
    args = ["run", str(path), "--json", "--journal", str(journal), "--secrets", str(secrets)]
    first = start_rpa(args, tmp_path, state_dir)
    try:
        wait_for_event(journal, "node.started", "hold", first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    lost = list(state_dir.rglob("*.json"))
    assert lost, "the session's state was kept"
    for checkpoint in lost:
        checkpoint.unlink()  # e.g. another agent, and the orchestrator's copy gone
    return args, journal, state_dir


def test_a_session_opened_with_restart_runs_its_steps_again_when_its_state_is_lost(
    browser_site: SiteServer, tmp_path: Path
) -> None:
    args, journal, state_dir = _killed_after_login(browser_site, tmp_path, "restart")
    second = start_rpa([*args, "--resume"], tmp_path, state_dir)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "succeeded"
    # The user name is the credential erp_user, which the fill run again made a known secret: masked.
    assert result["outputs"]["welcome"] == "Welcome, ***"
    assert result["outputs"]["path"] == "/account"
    events = journal_events(journal)
    for node in ("open", "user", "password", "login", "hold"):
        assert events.count(("node.succeeded", node)) == (2 if node != "hold" else 1), node
    assert ("node.restarted", "hold") in events
    with sqlite3.connect(journal) as db:
        (rerun,) = [json.loads(r[0]) for r in db.execute("SELECT data FROM events WHERE type = 'node.restarted'")]
    assert rerun["scope"] == "browser:main"
    assert rerun["from"] == "open"
    assert rerun["rerun"] == ["open", "user", "password", "login", "hold"]


def test_a_session_opened_with_restore_fails_naming_it_when_its_state_is_lost(
    browser_site: SiteServer, tmp_path: Path
) -> None:
    args, journal, state_dir = _killed_after_login(browser_site, tmp_path, "restore")
    second = start_rpa([*args, "--resume"], tmp_path, state_dir)
    out, _ = second.communicate(timeout=120)
    result = json.loads(out)
    assert result["status"] == "failed"
    assert result["error"]["kind"] == "no_session"
    assert result["error"]["node"] == "hold"
    assert "no browser session named 'main' is open and none can be restored" in result["error"]["message"]
    assert ("node.restarted", "hold") not in journal_events(journal)
