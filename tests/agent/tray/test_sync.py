"""The tray's flows from a real orchestrator (in-process, served by uvicorn on a loopback port):
published versions fetched with the signed-in user's session into the offline cache, refetched
only when a new version is out, a failure shown without losing the cache; the Run menu's search,
favourites and recent flows."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.attended import AttendedController, FlowCache
from agent.runtime import RuntimeState, RuntimeStatus
from agent.tray import TrayApp
from agent.tray._settings import load_settings
from orchestrator.models.identity import Membership, Organisation
from orchestrator.services.roles import builtin_role
from shared.client import ApiClient
from tests.agent.attended.conftest import ReportingOrchestrator, make_runtime
from tests.agent.memory_orchestrator import wait_flow
from tests.orchestrator._identity_helpers import fast_hashing
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import PASSWORD, Member, TenantFactory, app, settings, sqlite_template, tenant

__all__ = ["app", "fast_hashing", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here

DOCS = Path(__file__).resolve().parents[3] / "docs" / "tray"
INPUTS = {"customer": {"type": "string", "required": True}}


@pytest.fixture
def database_url() -> None:
    """SQLite only: the tray reads the API, the database behind it is not what is tested here."""
    return None


async def _publish(live: httpx.AsyncClient, headers: dict[str, str], document: dict[str, Any]) -> str:
    created = await live.post(
        "/api/v1/workflows", json={"name": document["name"], "document": document}, headers=headers
    )
    assert created.status_code == 201, created.text
    workflow_id = str(created.json()["id"])
    published = await live.post(f"/api/v1/workflows/{workflow_id}/publish", headers=headers)
    assert published.status_code == 201, published.text
    return workflow_id


async def test_flows_come_from_the_orchestrator_into_the_offline_cache(
    qtbot: Any, tmp_path: Path, live: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    member = await tenant()
    month_end = wait_flow(1) | {"name": "Month end", "settings": {"hotkey": "Ctrl+Alt+Shift+M"}, "inputs": INPUTS}
    month_id = await _publish(live, member.headers, month_end)
    invoices_id = await _publish(live, member.headers, wait_flow(1) | {"name": "Invoices"})
    draft = await live.post("/api/v1/workflows", json={"name": "Draft only"}, headers=member.headers)
    assert draft.status_code == 201
    token = member.headers["Authorization"].removeprefix("Bearer ")
    client = ApiClient(str(live.base_url), access_token=token)
    cache = FlowCache(tmp_path / "flows")
    controller = AttendedController(make_runtime(tmp_path, ReportingOrchestrator()), cache, user_id=None)
    app = TrayApp(controller.runtime, controller, flows_client=lambda: client, settings_folder=tmp_path / "home")
    try:
        assert app.run_menu.visible_flows() == []
        assert app.timer.isActive()
        assert app.timer.interval() == 15 * 60_000
        app._on_status(RuntimeStatus(RuntimeState.CONNECTED))  # a connection starts a fetch
        assert app.syncing is not None
        result = await app.syncing
        assert result is not None
        assert sorted(f.name for f in result.fetched) == ["Invoices", "Month end"]  # not the draft
        cached = cache.get(month_id)
        assert cached is not None
        assert (cached.version, cached.hotkey) == (1, "Ctrl+Alt+Shift+M")
        assert cached.flow().inputs["customer"].required
        assert app.run_menu.visible_flows() == ["Invoices", "Month end\tCtrl+Alt+Shift+M"]

        again = await app.refresh_flows()
        assert again is not None
        assert (again.fetched, again.unchanged) == ([], 2)  # nothing new: nothing fetched
        patched = await live.patch(
            f"/api/v1/workflows/{invoices_id}",
            json={"document": wait_flow(2) | {"name": "Invoices"}},
            headers=member.headers,
        )
        assert patched.status_code == 200, patched.text
        assert (await live.post(f"/api/v1/workflows/{invoices_id}/publish", headers=member.headers)).status_code == 201
        newer = await app.refresh_flows()
        assert newer is not None
        assert [(f.name, f.version) for f in newer.fetched] == [("Invoices", 2)]

        app.flows_client = lambda: ApiClient("http://127.0.0.1:9", access_token=token)
        assert await app.refresh_flows() is None
        assert app.sync_problem is not None
        assert "cannot reach the orchestrator at http://127.0.0.1:9" in app.sync_problem
        texts = [a.text() for a in app.run_menu.menu.actions()]
        assert f"Flows not refreshed: {app.sync_problem}" in texts
        assert len(cache.all()) == 2  # the cache is kept for offline runs
    finally:
        app.close()
        await controller.runtime.stop()


async def test_search_favourites_and_recent_in_the_run_menu(qtbot: Any, tmp_path: Path) -> None:
    cache = FlowCache(tmp_path / "flows")
    ids = [f"0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c{i:02d}" for i in range(3)]
    for workflow_id, name in zip(ids, ("Invoices", "Month end", "Payroll"), strict=True):
        cache.put(workflow_id, 1, wait_flow(1) | {"name": name})
    controller = AttendedController(make_runtime(tmp_path, ReportingOrchestrator()), cache, user_id=None)
    home = tmp_path / "home"
    app = TrayApp(controller.runtime, controller, settings_folder=home)
    try:
        assert "Refresh flows" not in [a.text() for a in app.run_menu.menu.actions()]  # no session given
        app.run_menu.search.setText("MONTH")
        assert app.run_menu.visible_flows() == ["Month end"]
        app.run_menu.search.setText("")

        pins = app.run_menu.menu.findChild(type(app.menu), "menu-favourites")
        assert [a.text() for a in pins.actions()] == ["Invoices", "Month end", "Payroll"]
        pins.actions()[2].trigger()  # pin Payroll
        assert app.settings.favourites == [ids[2]]
        assert load_settings(home).favourites == [ids[2]]
        assert app.run_menu.visible_flows() == ["★ Payroll", "Invoices", "Month end", "Payroll"]

        run = controller.run(cache.get(ids[1]), trigger={"type": "tray"})  # type: ignore[arg-type]
        await asyncio.wait_for(run.wait(), 10)
        app.refresh()
        assert app.run_menu.visible_flows() == ["★ Payroll", "Month end", "Invoices", "Month end", "Payroll"]
        app.run_menu.menu.adjustSize()
        assert app.run_menu.menu.grab().save(str(DOCS / "run-menu.png"))
        app.run_menu.search.setText("pay")  # the search stays across menu rebuilds
        app.refresh()
        assert app.run_menu.visible_flows() == ["★ Payroll", "Payroll"]
    finally:
        app.close()
        await controller.runtime.stop()


async def _join(orchestrator: FastAPI, member: Member, org_id: uuid.UUID) -> str:
    """Add `member` to another organisation (as a viewer); returns that organisation's slug."""
    async with orchestrator.state.db.transaction() as session:
        role = await builtin_role(session, "viewer")
        session.add(Membership(org_id=org_id, user_id=member.user_id, role_id=role.id))
        organisation = await session.get(Organisation, org_id)
        assert organisation is not None
        return str(organisation.slug)


@pytest.mark.usefixtures("fast_hashing")
async def test_unpublished_flows_leave_the_cache_and_only_the_chosen_organisations_show(
    qtbot: Any,
    tmp_path: Path,
    app: FastAPI,
    live: httpx.AsyncClient,
    tenant: TenantFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ann = await tenant()
    await _publish(live, ann.headers, wait_flow(1) | {"name": "Month end", "settings": {"hotkey": "Ctrl+Alt+Shift+M"}})
    old_id = await _publish(live, ann.headers, wait_flow(1) | {"name": "Old report"})
    other = await tenant()
    await _publish(live, other.headers, wait_flow(1) | {"name": "Payroll"})
    slug = await _join(app, ann, other.org_id)  # Ann belongs to two organisations
    cache = FlowCache(tmp_path / "flows")
    controller = AttendedController(make_runtime(tmp_path, ReportingOrchestrator()), cache, user_id=None)
    tray = TrayApp(controller.runtime, controller, settings_folder=tmp_path / "home")

    async def sign_in(organisation: str) -> str | None:
        """None once signed in (the flows fetched), else the problem the dialog shows."""
        dialog = tray.open_sign_in()
        dialog.url.setText(str(live.base_url))
        dialog.email.setText(ann.email)
        dialog.password.setText(PASSWORD)
        dialog.organisation.setText(organisation)
        if not await dialog.sign_in():
            return dialog.problem.text()
        assert tray.syncing is not None
        await tray.syncing
        return None

    try:
        assert await sign_in("") is None  # the account's first organisation
        assert tray.run_menu.visible_flows() == ["Month end\tCtrl+Alt+Shift+M", "Old report"]

        assert (await live.delete(f"/api/v1/workflows/{old_id}", headers=ann.headers)).status_code == 204
        result = await tray.refresh_flows()
        assert result is not None
        assert [f.name for f in result.removed] == ["Old report"]
        assert cache.get(old_id) is None
        assert tray.run_menu.visible_flows() == ["Month end\tCtrl+Alt+Shift+M"]

        assert "not a member" in str(await sign_in("no-such-org"))
        assert await sign_in(slug) is None
        assert tray.run_menu.visible_flows() == ["Payroll"]  # the other organisation's only
        assert [f.name for f in cache.all()] == ["Payroll"]
        assert tray.settings.organisation == slug
        assert load_settings(tmp_path / "home").organisation == slug
        assert tray.open_sign_in().organisation.text() == slug  # offered again next time
    finally:
        tray.close()
        await controller.runtime.stop()
