"""Enrolment from the tray against a real orchestrator (in-process, uvicorn on 127.0.0.1): a bad
token is refused with the API's words, a good one becomes this machine's identity with its key in
the keyring (in memory here), which `rpa tray` then loads; the token is never kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QDialog

from agent.attended import AttendedController, FlowCache
from agent.keystore import load_identity
from agent.tray import TrayApp
from tests.agent.attended.conftest import ReportingOrchestrator, make_runtime
from tests.agent.keyrings import MemoryKeyring
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import TenantFactory, app, settings, sqlite_template, tenant

__all__ = ["app", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here


@pytest.fixture
def database_url() -> None:
    """SQLite only: the tray speaks to the API; the database behind it is not what is tested here."""
    return None


async def test_enrol_from_the_tray_keeps_the_key_in_the_keyring(
    qtbot: Any,
    tmp_path: Path,
    live: httpx.AsyncClient,
    tenant: TenantFactory,
    memory_keyring: MemoryKeyring,
    agent_home: Path,
) -> None:
    member = await tenant()
    made = await live.post("/api/v1/agents/enrolment-tokens", json={}, headers=member.headers)
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    controller = AttendedController(
        make_runtime(tmp_path, ReportingOrchestrator()), FlowCache(tmp_path / "flows"), user_id=None
    )
    app = TrayApp(controller.runtime, controller)
    try:
        next(a for a in app.menu.actions() if a.text() == "Enrol this machine…").trigger()
        dialog = app.enrol_dialog
        assert dialog is not None
        dialog.url.setText(str(live.base_url))
        dialog.name.setText("desk-7")
        dialog.token.setText("rpa_et_not-a-token")
        assert await dialog.enrol() is False
        assert "refused the enrolment (HTTP 4" in dialog.problem.text()
        assert "rpa_et_not-a-token" not in dialog.problem.text()
        assert dialog.token.text() == ""

        dialog.token.setText(token)
        assert await dialog.enrol() is True
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert dialog.identity is not None
        identity, key = load_identity()
        assert identity == dialog.identity
        assert (identity.name, identity.org_id) == ("desk-7", str(member.org_id))
        assert key.startswith("rpa_ak_")
        assert token not in (agent_home / "agent.json").read_text()
        assert app.last_notice is not None
        assert app.last_notice.title == "Enrolled"
        listed = await live.get("/api/v1/agents", headers=member.headers)
        assert [a["name"] for a in listed.json()["items"]] == ["desk-7"]
    finally:
        app.close()
        await controller.runtime.stop()
