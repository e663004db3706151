"""`rpa tray` on a machine not enrolled yet, against a real orchestrator (in-process uvicorn on
127.0.0.1): the tray starts without a runtime (the not-enrolled state, runs refused with the
reason), and enrolling from its menu, or signing in as a manager, builds the runtime in the same
process, which connects to the orchestrator as the new agent without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.attended import AttendedController, AttendedRunError, FlowCache
from agent.keystore import KeystoreError
from agent.tray import TrayApp, build_runtime
from tests.agent.keyrings import MemoryKeyring
from tests.agent.memory_orchestrator import until, wait_flow
from tests.orchestrator._identity_helpers import fast_hashing
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import PASSWORD, TenantFactory, app, settings, sqlite_template, tenant

__all__ = ["app", "fast_hashing", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here


@pytest.fixture
def database_url() -> None:
    """SQLite only: the tray speaks to the API; the database behind it is not what is tested here."""
    return None


def _unenrolled_tray(agent_home: Path) -> tuple[TrayApp, AttendedController]:
    cache = FlowCache(agent_home / "flows")
    cache.put("0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c00", 1, wait_flow(1) | {"name": "Month end"})
    controller = AttendedController(None, cache, user_id=None)
    with pytest.raises(KeystoreError) as missing:
        build_runtime()
    app = TrayApp(None, controller, runtime_factory=build_runtime, not_enrolled=str(missing.value))
    return app, controller


async def _online(app: TrayApp, live: httpx.AsyncClient, headers: dict[str, str]) -> None:
    runtime = app.runtime
    assert runtime is not None
    await until(lambda: app.state == "connected", within=15, what="the new agent's connection")
    listed = (await live.get("/api/v1/agents", headers=headers)).json()["items"]
    assert [(a["name"], a["status"]) for a in listed] == [(runtime.config.name, "online")]
    assert runtime.config.url == str(live.base_url).rstrip("/")


async def test_an_unenrolled_tray_enrols_from_its_menu_and_connects_without_restart(
    qtbot: Any, live: httpx.AsyncClient, tenant: TenantFactory, memory_keyring: MemoryKeyring, agent_home: Path
) -> None:
    member = await tenant()
    token = (await live.post("/api/v1/agents/enrolment-tokens", json={}, headers=member.headers)).json()["token"]
    app, controller = _unenrolled_tray(agent_home)
    try:
        assert app.runtime is None
        assert app.state == "unenrolled"
        texts = [a.text() for a in app.menu.actions() if a.text()]
        assert "Not enrolled: no agent identity in" in texts[4]
        assert texts[5:] == ["Sign in…", "Enrol this machine…", "Settings…"]
        with pytest.raises(AttendedRunError, match="not enrolled"):
            controller.run(controller.cache.all()[0], trigger={"type": "tray"})

        next(a for a in app.menu.actions() if a.text() == "Enrol this machine…").trigger()
        dialog = app.enrol_dialog
        assert dialog is not None
        dialog.url.setText(str(live.base_url))
        dialog.name.setText("desk-8")
        dialog.token.setText(token)
        assert await dialog.enrol() is True
        assert app.last_notice is not None
        assert app.last_notice.message.endswith("; connecting")
        await _online(app, live, member.headers)
        assert not any(a.text().startswith("Not enrolled") for a in app.menu.actions())

        run = controller.run(controller.cache.all()[0], trigger={"type": "tray"})  # runs now
        await run.wait()
        assert app.runtime is not None
        ended = [e for e in app.runtime.outbox.events(run.execution_id) if e.type == "execution.finished"]
        assert [e.data["status"] for e in ended] == ["succeeded"]
    finally:
        app.close()
        if app.runtime is not None:
            await app.runtime.stop()


@pytest.mark.usefixtures("fast_hashing")
async def test_signing_in_as_a_manager_enrols_the_machine_and_connects(
    qtbot: Any,
    tmp_path: Path,
    live: httpx.AsyncClient,
    tenant: TenantFactory,
    memory_keyring: MemoryKeyring,
    agent_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    app, _controller = _unenrolled_tray(agent_home)
    try:
        dialog = app.open_sign_in()
        dialog.url.setText(str(live.base_url))
        dialog.email.setText(viewer.email)
        dialog.password.setText(PASSWORD)
        assert await dialog.sign_in() is True
        assert app.going_online is not None
        assert await app.going_online is False  # a viewer may not enrol machines: said, nothing spent
        assert app.last_notice is not None
        assert app.last_notice.title == "Not enrolled"
        assert "could not be enrolled with your account" in app.last_notice.message
        assert app.runtime is None
        assert app.state == "unenrolled"

        dialog = app.open_sign_in()
        dialog.url.setText(str(live.base_url))
        dialog.email.setText(owner.email)
        dialog.password.setText(PASSWORD)
        assert await dialog.sign_in() is True
        assert app.going_online is not None
        assert await app.going_online is True
        await _online(app, live, owner.headers)
        assert app.settings.user_id == str(owner.user_id)
    finally:
        app.close()
        if app.runtime is not None:
            await app.runtime.stop()
