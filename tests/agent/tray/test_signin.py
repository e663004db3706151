"""Sign-in from the tray against a real orchestrator (in-process, uvicorn on 127.0.0.1): a wrong
password is refused with the API's words, an account with TOTP asks for its code, and once signed
in the session is kept (0600, no password), runs are reported for that user and the
organisation's flows are fetched."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QDialog

from agent.attended import AttendedController, FlowCache
from agent.tray import TrayApp
from orchestrator.security import totp
from shared.client import session_file
from tests.agent.attended.conftest import ReportingOrchestrator, make_runtime
from tests.agent.memory_orchestrator import wait_flow
from tests.orchestrator._identity_helpers import fast_hashing
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import PASSWORD, TenantFactory, app, settings, sqlite_template, tenant

__all__ = ["app", "fast_hashing", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here

NOW = 1_800_000_015.0  # the middle of a 30 s TOTP step


@pytest.fixture
def database_url() -> None:
    """SQLite only: the tray speaks to the API; the database behind it is not what is tested here."""
    return None


@pytest.mark.usefixtures("fast_hashing")
async def test_sign_in_with_password_and_totp_then_flows_are_fetched(
    qtbot: Any, tmp_path: Path, live: httpx.AsyncClient, tenant: TenantFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(totp, "clock", lambda: NOW)
    member = await tenant()
    started = await live.post("/api/v1/auth/mfa/totp", headers=member.headers)
    secret = started.json()["secret"]
    confirm = {"code": totp.code_at(secret, NOW - totp.STEP_S)}
    assert (await live.post("/api/v1/auth/mfa/totp/confirm", headers=member.headers, json=confirm)).status_code == 200
    document = wait_flow(1) | {"name": "Month end"}
    created = await live.post(
        "/api/v1/workflows", json={"name": "Month end", "document": document}, headers=member.headers
    )
    assert (await live.post(f"/api/v1/workflows/{created.json()['id']}/publish", headers=member.headers)).is_success

    cache = FlowCache(tmp_path / "flows")
    controller = AttendedController(make_runtime(tmp_path, ReportingOrchestrator()), cache, user_id=None)
    app = TrayApp(controller.runtime, controller, settings_folder=tmp_path / "home")
    try:
        assert not app.timer.isActive()  # no session yet
        next(a for a in app.menu.actions() if a.text() == "Sign in…").trigger()
        dialog = app.sign_in_dialog
        assert dialog is not None
        assert dialog.isVisible()
        assert not dialog.code.isVisibleTo(dialog)
        dialog.url.setText(str(live.base_url))
        dialog.email.setText(member.email)
        dialog.password.setText("not the password")
        assert await dialog.sign_in() is False
        assert dialog.problem.text()  # the API's own words
        assert "password" in dialog.problem.text().lower() or "invalid" in dialog.problem.text().lower()

        dialog.password.setText(PASSWORD)
        assert await dialog.sign_in() is False  # the account has TOTP on: the code is asked
        assert dialog.code.isVisibleTo(dialog)
        assert "authenticator" in dialog.problem.text()

        dialog.code.setText(totp.code_at(secret, NOW))
        assert await dialog.sign_in() is True
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert dialog.password.text() == ""
        assert app.settings.user_id == str(member.user_id)
        assert controller.user_id == str(member.user_id)
        kept = session_file()
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert PASSWORD not in kept.read_text()
        assert json.loads(kept.read_text())["url"] == str(live.base_url).rstrip("/")
        assert app.syncing is not None
        assert app.timer.isActive()  # fetched again every 15 minutes from now on
        await app.syncing
        assert app.run_menu.visible_flows() == ["Month end"]
        assert "Refresh flows" in [a.text() for a in app.run_menu.menu.actions()]
    finally:
        app.close()
        await controller.runtime.stop()


def test_screenshot_of_the_sign_in_dialog(qtbot: Any) -> None:
    from agent.tray._signin import SignInDialog

    docs = Path(__file__).resolve().parents[3] / "docs" / "tray"
    dialog = SignInDialog("https://rpa.example", "ann@example.com")
    qtbot.addWidget(dialog)
    dialog.password.setText("secret")
    dialog._show_code(True)
    dialog.problem.setText("This account needs the code from its authenticator app.")
    dialog.adjustSize()
    assert dialog.grab().save(str(docs / "sign-in.png"))
