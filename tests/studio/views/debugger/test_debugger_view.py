"""The debugger dock runs real flows with the engine on a qasync loop: stops, steps, edits, reruns."""

from __future__ import annotations

import copy
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidgetItem

from shared.steps import StepRegistry, context, step
from studio.model import DebuggerChanged, DebuggerNode, FlowDocument
from studio.views.debugger import DebugController, DebuggerDock, debugger_dock
from tests.studio.views.debugger.conftest import QtLoop

SHOTS = Path(__file__).resolve().parents[4] / "build" / "screenshots"


def _png(width: int, height: int) -> bytes:
    """A red PNG of `width` x `height`: what a screenshot step would save."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = _png(4, 3)


class ShotParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The artifact's file name.")


@step("test.screenshot", params=ShotParams, output="the artifact")
def screenshot(params: ShotParams) -> dict[str, Any]:
    """Save a tiny PNG as an artifact, as a browser screenshot would."""
    context().log(f"saving {params.name}")
    return context().save_artifact(params.name, PNG, content_type="image/png")


class LeakParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: str = Field(description="The credential's name.")


@step("test.leak", params=LeakParams, output="the value")
def leak(params: LeakParams) -> str:
    """A careless step: logs a secret's value and returns it."""
    value = context().secret(params.credential)
    context().log(f"logging in with {value}")
    return value


FLOW: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Debugged",
    "inputs": {"who": {"type": "string", "default": "Ann"}},
    "variables": {"bump": 1},
    "outputs": {"c": "{{ steps.c.output }}"},
    "nodes": [
        {"id": "hello", "type": "core.log", "params": {"message": "hello {{ inputs.who }}"}},
        {"id": "a", "type": "core.noop", "params": {"value": {"amount": 10, "who": "{{ inputs.who }}"}}},
        {"id": "b", "type": "core.noop", "params": {"value": "{{ steps.a.output.amount + vars.bump }}"}},
        {"id": "shot", "type": "test.screenshot", "params": {"name": "page.png"}},
        {"id": "c", "type": "core.noop", "params": {"value": "{{ steps.b.output * 2 }}"}},
    ],
    "edges": [
        {"from": "hello", "to": "a"},
        {"from": "a", "to": "b"},
        {"from": "b", "to": "shot"},
        {"from": "shot", "to": "c"},
    ],
}

LOOP: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Looped",
    "nodes": [
        {"id": "start", "type": "core.noop", "params": {"value": 0}},
        {
            "id": "each",
            "type": "control.foreach",
            "params": {"items": [1, 2, 3]},
            "body": {"nodes": [{"id": "inner", "type": "core.noop", "params": {"value": "{{ item * 10 }}"}}]},
        },
        {"id": "end", "type": "core.noop", "params": {"value": "{{ steps.each.output | length }}"}},
    ],
    "edges": [{"from": "start", "to": "each"}, {"from": "each", "to": "end"}],
}

GUARDED: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Guarded",
    "nodes": [
        {
            "id": "guard",
            "type": "control.try",
            "body": {
                "nodes": [
                    {"id": "work", "type": "core.noop", "params": {"value": 1}},
                    {"id": "more", "type": "core.noop", "params": {"value": 2}},
                ],
                "edges": [{"from": "work", "to": "more"}],
            },
            "finally": {"nodes": [{"id": "cleanup", "type": "core.log", "params": {"message": "cleaned up"}}]},
        }
    ],
    "edges": [],
}


@pytest.fixture(scope="module")
def registry() -> StepRegistry:
    steps = StepRegistry.default()
    steps.add([screenshot, leak])
    return steps


def _dock(qtbot: Any, raw: dict[str, Any], registry: StepRegistry, tmp_path: Path) -> DebuggerDock:
    document = FlowDocument(copy.deepcopy(raw), registry=registry)
    controller = DebugController(document, artifacts_dir=tmp_path / "artifacts")
    dock = DebuggerDock(document, controller)
    qtbot.addWidget(dock)
    dock.resize(700, 640)
    return dock


def _tree_texts(item: QTreeWidgetItem) -> list[tuple[str, str]]:
    found = [(item.text(0), item.text(1))]
    for i in range(item.childCount()):
        found.extend(_tree_texts(item.child(i)))
    return found


def _all_tree(dock: DebuggerDock) -> list[tuple[str, str]]:
    tree = dock.node_tree
    found: list[tuple[str, str]] = []
    for i in range(tree.topLevelItemCount()):
        found.extend(_tree_texts(tree.topLevelItem(i)))
    return found


def test_a_breakpoint_stops_the_run_and_the_dock_shows_params_output_and_variables(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    dock = _dock(qtbot, FLOW, registry, tmp_path)
    document, controller = dock.document, dock.controller
    document.selection.select(["b"])
    dock.debug_actions["toggle_breakpoint"].trigger()
    assert set(controller.breakpoints) == {"b"}
    assert dock.breakpoint_table.item(0, 0).text() == "b"

    qtloop.call(dock.debug_actions["run"].trigger)
    stop = qtloop.run(controller.wait_paused())

    assert stop is not None
    assert stop.path == "b"
    assert controller.state == "paused"
    assert controller.reason == "breakpoint"
    assert dock.debug_actions["continue_"].isEnabled()
    assert not dock.debug_actions["run"].isEnabled()
    assert "Paused before b" in dock.status.text()
    tree = _all_tree(dock)
    assert ("params", "{1}") in tree
    assert ("value", "11") in tree
    assert ("amount", "10") in tree
    assert ("who", '"Ann"') in tree
    assert dock.variables.item(0, 0).text() == "bump"
    assert dock.variables.item(0, 1).text() == "1"
    assert "hello Ann" in dock.log.toPlainText()

    SHOTS.mkdir(parents=True, exist_ok=True)
    dock.tabs.setCurrentIndex(0)
    dock.grab().save(str(SHOTS / "studio-debugger-paused.png"))

    dock.debug_actions["continue_"].trigger()
    result = qtloop.run(controller.wait_finished())
    assert result is not None
    assert result.status == "succeeded"
    assert result.outputs == {"c": 22}
    assert "Finished: succeeded" in dock.status.text()
    tree = _all_tree(dock)  # the last settled node: c, with its output
    assert ("output", "22") in tree
    # The screenshot step's artifact is in the thumbnail list, and opens full size.
    assert [dock.artifact_list.item(i).text() for i in range(dock.artifact_list.count())] == ["page.png"]
    dock.artifact_list.itemClicked.emit(dock.artifact_list.item(0))
    viewers = [w for w in dock.findChildren(type(dock).__mro__[0].__base__) if w.windowTitle() == "page.png"]
    assert viewers
    assert not viewers[0].image.pixmap().isNull()
    assert viewers[0].image.pixmap().width() == 4


def test_running_emits_the_highlighted_nodes_in_order(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    dock = _dock(qtbot, FLOW, registry, tmp_path)
    seen: list[tuple[str, str]] = []
    states: list[str] = []
    dock.document.events.connect(DebuggerNode, lambda e: seen.append((e.phase, e.path)))
    dock.document.events.connect(DebuggerChanged, lambda e: states.append(e.state))

    qtloop.call(lambda: dock.controller.run())
    qtloop.run(dock.controller.wait_finished())

    order = ["hello", "a", "b", "shot", "c"]
    assert [p for phase, p in seen if phase == "started"] == order
    assert seen[:2] == [("started", "hello"), ("finished", "hello")]
    assert states == ["running", "finished"]
    assert not dock.debug_actions["stop"].isEnabled()
    assert dock.debug_actions["run"].isEnabled()


def test_step_into_step_over_and_continue_move_through_a_loop(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    dock = _dock(qtbot, LOOP, registry, tmp_path)
    controller = dock.controller
    controller.set_breakpoint("each")
    qtloop.call(lambda: controller.run())

    stops = [qtloop.run(controller.wait_paused())]
    dock.debug_actions["step_into"].trigger()
    stops.append(qtloop.run(controller.wait_paused()))
    dock.debug_actions["step_over"].trigger()  # the next instance at the same depth
    stops.append(qtloop.run(controller.wait_paused()))
    assert [s.path for s in stops if s is not None] == ["each", "each[0]/inner", "each[1]/inner"]

    controller.clear_breakpoint("each")
    dock.debug_actions["continue_"].trigger()
    result = qtloop.run(controller.wait_finished())
    assert result is not None
    assert result.status == "succeeded"
    assert controller.runs["end"].output == 3


def test_stop_ends_the_run_cancelled_running_finally_but_not_the_paused_node(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    dock = _dock(qtbot, GUARDED, registry, tmp_path)
    controller = dock.controller
    controller.set_breakpoint("more")
    qtloop.call(lambda: controller.run())
    stop = qtloop.run(controller.wait_paused())
    assert stop is not None
    assert stop.path == "guard/more"

    dock.debug_actions["stop"].trigger()
    qtloop.run(controller.wait_finished())

    assert controller.state == "finished"
    assert controller.debugger is not None
    assert controller.debugger.journal is not None
    events = controller.debugger.journal.read()
    assert events[-1].type == "execution.finished"
    assert events[-1].data["status"] == "cancelled"
    assert "guard/more" not in controller.runs
    assert controller.runs["guard/work"].status == "succeeded"
    assert controller.runs["guard/cleanup"].status == "succeeded"  # the try's finally ran
    assert dock.debug_actions["run"].isEnabled()
    assert not dock.debug_actions["stop"].isEnabled()


def test_a_conditional_breakpoint_stops_only_when_true(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    dock = _dock(qtbot, LOOP, registry, tmp_path)
    controller = dock.controller
    controller.set_breakpoint("inner", "{{ item == 2 }}")
    assert dock.breakpoint_table.item(0, 1).text() == "{{ item == 2 }}"
    qtloop.call(lambda: controller.run())

    stop = qtloop.run(controller.wait_paused())
    assert stop is not None
    assert stop.path == "each[1]/inner"
    controller.continue_()
    result = qtloop.run(controller.wait_finished())
    assert result is not None
    assert result.status == "succeeded"

    # Editing the condition in the breakpoints table changes where the next run stops.
    dock.breakpoint_table.item(0, 1).setText("{{ item == 3 }}")
    qtloop.call(lambda: controller.run())
    stop = qtloop.run(controller.wait_paused())
    assert stop is not None
    assert stop.path == "each[2]/inner"
    controller.stop()
    qtloop.run(controller.wait_finished())


def test_editing_a_variable_while_paused_changes_what_the_next_node_sees(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    dock = _dock(qtbot, FLOW, registry, tmp_path)
    controller = dock.controller
    controller.set_breakpoint("b")
    qtloop.call(lambda: controller.run())
    qtloop.run(controller.wait_paused())
    assert dock.variables.editTriggers() != dock.variables.EditTrigger.NoEditTriggers

    dock.variables.item(0, 1).setText("5")  # what typing into the cell does

    assert "bump = 5" in dock.status.text()
    controller.continue_()
    result = qtloop.run(controller.wait_finished())
    assert result is not None
    assert result.outputs == {"c": 30}
    assert dock.variables.editTriggers() == dock.variables.EditTrigger.NoEditTriggers


def test_run_from_the_selected_node_reuses_the_earlier_outputs(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    dock = _dock(qtbot, FLOW, registry, tmp_path)
    controller, document = dock.controller, dock.document
    document.selection.select(["b"])
    dock.debug_actions["run_from_selected"].trigger()
    assert "run the flow once first" in dock.status.text()

    qtloop.call(lambda: controller.run({"who": "Bob"}))
    qtloop.run(controller.wait_finished())
    started: list[str] = []
    document.events.connect(DebuggerNode, lambda e: started.append(e.path) if e.phase == "started" else None)
    document.execute("set_param", node="b", name="value", value="{{ steps.a.output.amount + 100 }}")

    qtloop.call(dock.debug_actions["run_from_selected"].trigger)
    result = qtloop.run(controller.wait_finished())

    assert result is not None
    assert result.status == "succeeded"
    assert result.outputs == {"c": 220}
    assert started == ["b", "shot", "c"]  # hello and a were replayed, not run
    assert controller.runs["b"].params == {"value": 110}


def test_an_invalid_flow_says_what_is_wrong_instead_of_running(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    broken = copy.deepcopy(FLOW)
    broken["nodes"][1]["type"] = "core.nope"
    dock = _dock(qtbot, broken, registry, tmp_path)
    qtloop.call(dock.debug_actions["run"].trigger)
    assert "The flow has problems" in dock.status.text()
    assert "core.nope" in dock.status.text()
    assert dock.controller.state == "idle"


def test_the_dock_factory_and_shortcuts(qtbot: Any, registry: StepRegistry) -> None:
    from PySide6.QtWidgets import QMainWindow

    window = QMainWindow()
    qtbot.addWidget(window)
    widget = debugger_dock(FlowDocument(copy.deepcopy(FLOW), registry=registry), window)
    assert isinstance(widget, DebuggerDock)
    keys = {name: action.shortcut().toString() for name, action in widget.debug_actions.by_name.items()}
    assert keys["run"] == "F5"
    assert keys["step_over"] == "F10"
    assert keys["step_into"] == "F11"
    assert keys["stop"] == "Shift+F5"
    assert keys["toggle_breakpoint"] == "F9"
    assert len(set(keys.values())) == len(keys)  # no two actions share a key
    assert widget.debug_actions["run"].shortcutContext() == Qt.ShortcutContext.WindowShortcut


def test_secrets_are_masked_in_the_log_pane_and_the_node_tree(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    raw = {
        "schema": "rpa.flow/1",
        "name": "Secretive",
        "nodes": [
            {"id": "login", "type": "test.leak", "params": {"credential": "erp.password"}},
            {"id": "after", "type": "core.noop", "params": {"value": "{{ steps.login.output }}"}},
        ],
        "edges": [{"from": "login", "to": "after"}],
    }
    document = FlowDocument(raw, registry=registry)
    controller = DebugController(document, secrets={"erp.password": "hunter2-secret"}.get, artifacts_dir=tmp_path)
    dock = DebuggerDock(document, controller)
    qtbot.addWidget(dock)
    controller.set_breakpoint("after")
    qtloop.call(lambda: controller.run())
    stop = qtloop.run(controller.wait_paused())
    assert stop is not None, (controller.result, controller.runs)

    shown = json.dumps(_all_tree(dock)) + dock.log.toPlainText()
    assert "logging in with" in dock.log.toPlainText()
    assert "hunter2-secret" not in shown
    controller.continue_()
    qtloop.run(controller.wait_finished())
    assert "hunter2-secret" not in json.dumps(_all_tree(dock)) + repr(controller.logs)


def test_run_with_inputs_asks_with_the_form_and_runs_with_its_values(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLineEdit

    from studio.widgets.forms import RunFormDialog

    dock = _dock(qtbot, FLOW, registry, tmp_path)

    def fill_and_accept() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, RunFormDialog) and w.isVisible())
        field = dialog.form.fields["who"].widget
        assert isinstance(field, QLineEdit)
        assert field.text() == "Ann"  # the input's default
        field.setText("Zoe")
        dialog.accept()

    QTimer.singleShot(50, fill_and_accept)
    qtloop.call(dock.debug_actions["run_with_inputs"].trigger)
    qtloop.run(dock.controller.wait_finished())
    assert dock.controller.runs["a"].output == {"amount": 10, "who": "Zoe"}


def test_a_failing_node_shows_its_error_in_the_tree_and_the_status(
    qtbot: Any, qtloop: QtLoop, registry: StepRegistry, tmp_path: Path
) -> None:
    raw = {
        "schema": "rpa.flow/1",
        "name": "Failing",
        "nodes": [{"id": "boom", "type": "core.fail", "params": {"message": "no invoice for {{ 'ACME' }}"}}],
        "edges": [],
    }
    dock = _dock(qtbot, raw, registry, tmp_path)
    qtloop.call(lambda: dock.controller.run())
    result = qtloop.run(dock.controller.wait_finished())

    assert result is not None
    assert result.status == "failed"
    tree = _all_tree(dock)
    assert ("boom", "failed") in tree
    assert ("error", "{" + str(len(dock.controller.runs["boom"].error or {})) + "}") in tree
    assert ("message", '"no invoice for ACME"') in tree
    assert "Finished: failed — no invoice for ACME" in dock.status.text()
