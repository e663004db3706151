"""Notifications of attended runs (start, finish, failure with its reason), offscreen: in the
fallback window's status line when there is no tray, as a tray balloon when there is one; a
click opens the run's details (status, error, log lines, artifacts folder); a setting turns them
off."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QSystemTrayIcon

from agent.attended import AttendedController, FlowCache
from agent.tray import TrayApp
from agent.tray._notify import Notice, RunDetails
from agent.tray._settings import TraySettings
from tests.agent.attended.conftest import ReportingOrchestrator, make_runtime
from tests.agent.memory_orchestrator import until, wait_flow

FAILING = {
    "schema": "rpa.flow/1",
    "name": "Invoices",
    "nodes": [
        {"id": "look", "type": "core.log", "params": {"message": "looking up ACME"}},
        {"id": "fail", "type": "core.fail", "params": {"message": "no invoice for ACME"}},
    ],
    "edges": [{"from": "look", "to": "fail"}],
}
DOCS = Path(__file__).resolve().parents[3] / "docs" / "tray"
FLOW_ID = "0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c00"


def _controller(tmp_path: Path, document: dict[str, Any]) -> AttendedController:
    cache = FlowCache(tmp_path / "flows")
    cache.put(FLOW_ID, 1, document)
    return AttendedController(make_runtime(tmp_path, ReportingOrchestrator()), cache, user_id=None)


async def _run(app: TrayApp) -> str:
    flow = app.controller.cache.get(FLOW_ID)
    assert flow is not None
    run = app.controller.run(flow, trigger={"type": "tray"})
    await asyncio.wait_for(run.wait(), 10)
    await until(lambda: app.last_notice is not None and app.last_notice.title != "Run started", what="the end notice")
    return run.execution_id


async def test_a_finished_run_is_notified_in_the_window_and_opens_its_details(qtbot: Any, tmp_path: Path) -> None:
    document = wait_flow(1) | {"name": "Month end"}
    document["nodes"].insert(0, {"id": "hello", "type": "core.log", "params": {"message": "closing the month"}})
    document["edges"].insert(0, {"from": "hello", "to": "s0"})
    controller = _controller(tmp_path, document)
    shown: list[Notice] = []
    app = TrayApp(controller.runtime, controller)
    app.notifier.show = lambda notice: (shown.append(notice), app.notify(notice))[1]
    try:
        execution_id = await _run(app)
        assert [(n.title, n.message) for n in shown] == [
            ("Run started", "Month end is running"),
            ("Run finished", "Month end finished"),
        ]
        assert app.notice_button.isVisible()
        assert app.notice_button.text().startswith("Run finished: Month end finished")
        app.notice_button.click()
        details = app.details
        assert isinstance(details, RunDetails)
        assert details.isVisible()
        assert details.outcome.execution_id == execution_id
        assert details.status.text() == "succeeded"
        assert details.error.text() == "—"
        assert details.logs.toPlainText().splitlines() == [
            "INFO    hello: closing the month",  # the step's own log line, then the journal's
            "OK      hello",
            "OK      s0",
        ]
        assert not details.open_artifacts.isEnabled()  # the run left no files
    finally:
        app.close()
        await controller.runtime.stop()


async def test_a_failure_says_why_and_its_details_open_the_artifacts_folder(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr("agent.tray._notify.QDesktopServices.openUrl", lambda url: opened.append(url) or True)
    controller = _controller(tmp_path, FAILING)
    app = TrayApp(controller.runtime, controller)
    try:
        execution_id = await _run(app)
        notice = app.last_notice
        assert notice is not None
        assert (notice.title, notice.message) == ("Run failed", "Invoices failed: no invoice for ACME")
        assert notice.warning
        assert "color: #d13a2f" in app.notice_button.styleSheet()
        folder = controller.runtime.config.home / "artifacts" / execution_id
        folder.mkdir(parents=True)
        (folder / "screen.png").write_bytes(b"png")
        last_runs = app.menu.actions()[3].menu()
        assert [a.text() for a in last_runs.actions()] == ["Invoices — failed"]
        last_runs.actions()[0].trigger()  # the same details from the Last runs menu
        details = app.details
        assert details is not None
        assert details.error.text() == "no invoice for ACME"
        assert details.logs.toPlainText().splitlines() == [
            "INFO    look: looking up ACME",
            "OK      look",
            "FAILED  fail: no invoice for ACME",
        ]
        assert details.open_artifacts.isEnabled()
        details.open_artifacts.click()
        assert opened == [QUrl.fromLocalFile(str(folder))]
    finally:
        app.close()
        await controller.runtime.stop()


async def test_the_tray_icon_shows_a_balloon_and_its_click_opens_the_run(qtbot: Any, tmp_path: Path) -> None:
    controller = _controller(tmp_path, FAILING)
    app = TrayApp(controller.runtime, controller, use_tray=True)
    balloons: list[tuple[str, str, QSystemTrayIcon.MessageIcon]] = []
    assert app.icon is not None
    app.icon.showMessage = lambda title, text, icon: balloons.append((title, text, icon))  # type: ignore[method-assign,assignment]
    try:
        execution_id = await _run(app)
        assert balloons == [
            ("Run started", "Invoices is running", QSystemTrayIcon.MessageIcon.Information),
            ("Run failed", "Invoices failed: no invoice for ACME", QSystemTrayIcon.MessageIcon.Warning),
        ]
        app.icon.messageClicked.emit()
        assert app.details is not None
        assert app.details.outcome.execution_id == execution_id
        assert app.details.status.text() == "failed"
    finally:
        app.close()
        await controller.runtime.stop()


async def test_notifications_can_be_turned_off(qtbot: Any, tmp_path: Path) -> None:
    controller = _controller(tmp_path, FAILING)
    settings = TraySettings(notifications=False)
    app = TrayApp(controller.runtime, controller, settings=settings)
    try:
        flow = controller.cache.get(FLOW_ID)
        assert flow is not None
        run = controller.run(flow, trigger={"type": "tray"})
        await asyncio.wait_for(run.wait(), 10)
        await until(lambda: not run.running, what="the run's end")
        assert app.notifier.check() == []  # both were due and not shown, and are not due again
        assert app.last_notice is None
        assert not app.notice_button.isVisible()
        settings.notifications = True  # on again: the next run is notified
        second = controller.run(flow, trigger={"type": "tray"})
        await asyncio.wait_for(second.wait(), 10)
        await until(lambda: app.last_notice is not None and app.last_notice.title == "Run failed", what="the notice")
        assert app.last_notice is not None
        assert app.last_notice.execution_id == second.execution_id
    finally:
        app.close()
        await controller.runtime.stop()


async def test_screenshots_of_a_notice_and_the_run_details(qtbot: Any, tmp_path: Path) -> None:
    docs = DOCS
    docs.mkdir(parents=True, exist_ok=True)
    controller = _controller(tmp_path, FAILING)
    app = TrayApp(controller.runtime, controller)
    try:
        await _run(app)
        assert app.window is not None
        app.window.resize(420, 120)
        assert app.window.grab().save(str(docs / "notice.png"))
        app.notice_button.click()
        assert app.details is not None
        assert app.details.grab().save(str(docs / "run-details.png"))
    finally:
        app.close()
        await controller.runtime.stop()
