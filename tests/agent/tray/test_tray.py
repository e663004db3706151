"""The tray, offscreen: the icon state follows the runtime and the current run, the fallback
window (no tray here) holds the same menu, a run starts from it (with a form when the flow has
inputs), the banner names the pause and stop hotkeys, and the Qt dialog host answers dialog steps.
Screenshots for docs/tray.md are written by `test_screenshots_for_the_docs`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QLineEdit, QListWidget, QTableWidget

from agent.attended import AttendedController, FlowCache, register_host, unregister_host
from agent.runtime import RuntimeState, RuntimeStatus
from agent.steps.dialog import confirm, input_form, review_table, select
from agent.tray import RunForm, TrayApp, tray_state
from agent.tray._dialogs import AnswerDialog, QtDialogHost
from shared.steps import StepEnvironment
from tests.agent.attended.conftest import ReportingOrchestrator, make_runtime
from tests.agent.memory_orchestrator import until, wait_flow

DOCS = Path(__file__).resolve().parents[3] / "docs" / "tray"
INPUTS = {"customer": {"type": "string", "required": True}, "count": {"type": "integer", "default": 3}}


def _controller(tmp_path: Path, *documents: dict[str, Any]) -> AttendedController:
    cache = FlowCache(tmp_path / "flows")
    for index, document in enumerate(documents):
        cache.put(f"0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c{index:02d}", 1, document)
    return AttendedController(make_runtime(tmp_path, ReportingOrchestrator()), cache, user_id=None)


def test_the_icon_state_follows_the_problem_the_run_and_the_connection(tmp_path: Path) -> None:
    controller = _controller(tmp_path)
    assert tray_state(RuntimeStatus(RuntimeState.WAITING), controller) == "offline"
    assert tray_state(RuntimeStatus(RuntimeState.CONNECTED), controller) == "connected"
    assert tray_state(RuntimeStatus(RuntimeState.CONNECTED, problem="disk full"), controller) == "error"


def _menu_texts(app: TrayApp) -> list[str]:
    return [a.text() for a in app.menu.actions() if a.text()]


async def test_a_run_from_the_fallback_window_shows_state_and_banner(qtbot: Any, tmp_path: Path) -> None:
    slow = wait_flow(20, 0.05) | {"name": "Month end", "settings": {"hotkey": "Ctrl+Alt+Shift+M"}}
    controller = _controller(tmp_path, slow)
    app = TrayApp(controller.runtime, controller)
    try:
        assert app.icon is None  # no tray offscreen: the always-on-top window instead
        assert app.window is not None
        assert app.window.isVisible()
        assert app.state == "offline"
        assert _menu_texts(app) == ["Run", "Pause", "Stop", "Last runs", "Sign in…", "Enrol this machine…", "Settings…"]
        assert app.menu.actions()[0].menu() is app.run_menu.menu
        assert app.run_menu.visible_flows() == ["Month end\tCtrl+Alt+Shift+M"]
        assert not app.menu.actions()[1].isEnabled()

        app.run_menu.flow_actions[0].trigger()  # no inputs: starts at once
        run = controller.current
        assert run is not None
        assert app.state == "running"
        assert app.banner.isVisible()
        assert "Ctrl+Alt+Shift+P to pause" in app.banner.label.text()
        assert "Ctrl+Alt+Shift+S to stop" in app.banner.label.text()
        app.menu.actions()[1].trigger()  # Pause
        assert app.state == "paused"
        assert _menu_texts(app)[1] == "Resume"
        app.menu.actions()[2].trigger()  # Stop
        await asyncio.wait_for(run.wait(), 10)
        await until(lambda: app.state == "offline", what="the state after the run")
        assert not app.banner.isVisible()
        last = app.menu.actions()[3].menu()
        assert [a.text() for a in last.actions()] == ["Month end — cancelled"]
        assert run.trigger == {"type": "tray"}
    finally:
        app.close()
        await controller.runtime.stop()


def test_the_run_form_types_the_inputs_and_requires_what_is_required(qtbot: Any, tmp_path: Path) -> None:
    controller = _controller(tmp_path, wait_flow(1) | {"name": "Invoices", "inputs": INPUTS})
    form = RunForm(controller.cache.all()[0])
    qtbot.addWidget(form)
    form._accept()
    assert form.result() != QDialog.DialogCode.Accepted
    assert form.problem.text() == "required: customer"
    customer = form.findChild(QLineEdit, "input-customer")
    customer.setText("ACME")
    assert form.values() == {"customer": "ACME", "count": 3}
    form._accept()
    assert form.result() == QDialog.DialogCode.Accepted


async def _answered(step_fn: Any, params: dict[str, Any], answer: Any) -> Any:
    host = QtDialogHost()
    register_host(host)
    try:
        task = asyncio.create_task(StepEnvironment().run(step_fn, params))
        await until(lambda: bool(host.open), what="the dialog to open")
        dialog = host.open[0]
        answer(dialog)
        return await asyncio.wait_for(task, 5)
    finally:
        unregister_host(host)


async def test_the_qt_host_answers_dialog_steps(qtbot: Any) -> None:
    assert await _answered(confirm, {"message": "Send?"}, lambda d: d.accept()) is True
    assert await _answered(confirm, {"message": "Send?"}, lambda d: d.reject()) is False

    def fill(dialog: AnswerDialog) -> None:
        dialog._accept()  # the required field is empty: it stays open and says so
        assert dialog.problem.text() == "customer: required"
        dialog.findChild(QLineEdit, "field-customer").setText("ACME")
        dialog._accept()

    fields = [{"name": "customer", "required": True}, {"name": "pin", "type": "password"}]
    assert await _answered(input_form, {"fields": fields}, fill) == {"customer": "ACME", "pin": None}

    def pick(dialog: AnswerDialog) -> None:
        options = dialog.findChild(QListWidget, "options")
        options.setCurrentRow(1)
        dialog.accept()

    assert await _answered(select, {"options": ["EU", "US"]}, pick) == "US"

    def edit(dialog: AnswerDialog) -> None:
        dialog.findChild(QTableWidget, "table").item(0, 1).setText("15")
        dialog.accept()

    table = [{"item": "Widget", "quantity": 2}]
    assert await _answered(review_table, {"table": table, "editable": True}, edit) == [
        {"item": "Widget", "quantity": 15}
    ]


async def test_a_cancelled_qt_dialog_fails_the_step(qtbot: Any) -> None:
    from shared.errors import StepError

    with pytest.raises(StepError) as caught:
        await _answered(select, {"options": ["EU"]}, lambda d: d.reject())
    assert caught.value.kind == "dialog_cancelled"


async def test_screenshots_for_the_docs(qtbot: Any, tmp_path: Path) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    slow = wait_flow(20, 0.05) | {"name": "Month end", "settings": {"hotkey": "Ctrl+Alt+Shift+M"}}
    controller = _controller(tmp_path, slow, wait_flow(1) | {"name": "Invoices", "inputs": INPUTS})
    app = TrayApp(controller.runtime, controller)
    try:
        assert app.window is not None
        app.window.resize(320, 90)
        assert app.window.grab().save(str(DOCS / "window.png"))
        app.menu.adjustSize()
        assert app.menu.grab().save(str(DOCS / "menu.png"))
        run = controller.run(controller.cache.get("0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c00"), trigger={"type": "tray"})
        assert app.banner.grab().save(str(DOCS / "banner.png"))
        run.stop()
        await run.wait()
        form = RunForm(controller.cache.get("0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c01"))
        qtbot.addWidget(form)
        form.adjustSize()
        assert form.grab().save(str(DOCS / "run-form.png"))
        from agent.attended import DialogRequest, FormField

        request = DialogRequest(
            "input",
            "New order",
            "Who orders, and how much?",
            fields=(FormField("customer", label="Customer", required=True), FormField("amount", "number", "Amount")),
        )
        dialog = AnswerDialog(request)
        qtbot.addWidget(dialog)
        dialog.adjustSize()
        assert dialog.grab().save(str(DOCS / "dialog-input.png"))
    finally:
        app.close()
        await controller.runtime.stop()
