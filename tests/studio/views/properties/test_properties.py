"""The properties panel: the form follows the selection and the model, each committed edit is
one undoable command, broken values are kept, problems sit next to their field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QToolButton
from pytestqt.qtbot import QtBot

from studio.model import FlowDocument, LiveValidation
from studio.views.properties import ExpressionEdit, FieldRow, PropertiesPanel
from studio.views.properties._fields import (
    BoolEditor,
    ChoiceEditor,
    CredentialEditor,
    EnumEditor,
    FileEditor,
    JsonEditor,
    ListEditor,
    NumberEditor,
    ObjectEditor,
    TextEditor,
)
from studio.views.properties._node import NodeSettings, SharedSettings

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot: QtBot, doc: FlowDocument) -> PropertiesPanel:
    widget = PropertiesPanel(doc, credential_names=lambda: ["erp", "crm-api"])
    qtbot.addWidget(widget)
    widget.resize(420, 900)
    return widget


def row(panel: PropertiesPanel, *path: str | int) -> FieldRow:
    return panel.context.rows[tuple(path)]


def params(doc: FlowDocument, node: str) -> dict[str, Any]:
    return dict(doc.node(node).get("params") or {})


def commit_text(editor: TextEditor, text: str) -> None:
    editor.line.setText(text)
    editor.line.editingFinished.emit()


def test_the_form_follows_the_selection(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["call"])
    assert panel.node_id == "call"
    assert ("url",) in panel.context.rows
    assert isinstance(row(panel, "method").editor, EnumEditor)
    doc.selection.select(["call", "open"])
    assert panel.node_id is None
    message = panel.content.findChild(QLabel, "panelMessage")
    assert message is not None
    assert message.text() == "2 nodes selected."
    doc.selection.clear()
    assert panel.context.rows == {}


def test_a_text_edit_is_one_command_and_undo_restores_it(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["call"])
    editor = row(panel, "url").editor
    assert isinstance(editor, TextEditor)
    commit_text(editor, "https://api.example/v2")
    assert params(doc, "call")["url"] == "https://api.example/v2"
    assert doc.undo_stack.undo_entry() is not None
    assert doc.undo_stack.undo_entry().kind == "set_param"  # type: ignore[union-attr]
    doc.undo()
    assert params(doc, "call")["url"] == "https://api.example/v1"
    # The form followed the undo.
    assert row(panel, "url").editor.line.text() == "https://api.example/v1"  # type: ignore[attr-defined]


def test_number_bool_and_enum_fields(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["call"])
    retries = row(panel, "retries").editor
    assert isinstance(retries, NumberEditor)
    assert retries.box.minimum() == 0
    retries.box.setValue(5)
    retries.box.editingFinished.emit()
    assert params(doc, "call")["retries"] == 5
    assert isinstance(params(doc, "call")["retries"], int)
    follow = row(panel, "follow_redirects").editor
    assert isinstance(follow, BoolEditor)
    follow.box.click()
    assert params(doc, "call")["follow_redirects"] is False
    method = row(panel, "method").editor
    assert isinstance(method, EnumEditor)
    method.combo.activated.emit(method.values.index("POST"))
    assert params(doc, "call")["method"] == "POST"
    for _ in range(3):
        doc.undo()
    assert params(doc, "call") == {"url": "https://api.example/v1", "headers": {"Accept": "application/json"}}


def test_a_nested_object_field_edits_the_whole_param(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["click"])
    position = row(panel, "position").editor
    assert isinstance(position, QPushButton)  # optional, not set: no made-up values shown
    position.click()
    assert params(doc, "click")["position"] == {}
    doc.selection.select(["call"])
    start = row(panel, "tls").editor
    assert isinstance(start, QPushButton)
    start.click()
    assert params(doc, "call")["tls"] == {}
    tls = row(panel, "tls").editor
    assert isinstance(tls, ObjectEditor)
    verify = row(panel, "tls", "verify").editor
    assert isinstance(verify, BoolEditor)
    verify.box.click()
    assert params(doc, "call")["tls"] == {"verify": False}
    commit_text(row(panel, "tls", "ca_bundle").editor, "certs/ca.pem")  # type: ignore[arg-type]
    assert params(doc, "call")["tls"] == {"verify": False, "ca_bundle": "certs/ca.pem"}
    doc.undo()
    doc.undo()
    assert params(doc, "call")["tls"] == {}
    doc.undo()
    assert "tls" not in params(doc, "call")


def test_a_choice_of_shapes_and_a_credential_picker(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["call"])
    auth = row(panel, "auth").editor
    assert isinstance(auth, ChoiceEditor)
    titles = [auth.combo.itemText(n) for n in range(auth.combo.count())]
    assert titles[0] == "(not set)"
    assert "basic" in titles
    auth.combo.activated.emit(titles.index("basic"))
    assert params(doc, "call")["auth"] == {"kind": "basic"}
    credential = row(panel, "auth", "credential").editor
    assert isinstance(credential, CredentialEditor)
    assert [credential.combo.itemText(n) for n in range(credential.combo.count())] == ["erp", "crm-api"]
    credential.combo.activated.emit(1)
    assert params(doc, "call")["auth"] == {"kind": "basic", "credential": "crm-api"}


def test_a_list_field_adds_and_removes_rows(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["click"])
    modifiers = row(panel, "modifiers").editor
    assert isinstance(modifiers, ListEditor)
    modifiers.add.click()
    assert params(doc, "click")["modifiers"] == ["Shift", "Alt"]
    second = row(panel, "modifiers", 1).editor
    assert isinstance(second, EnumEditor)
    second.combo.activated.emit(second.values.index("Control"))
    assert params(doc, "click")["modifiers"] == ["Shift", "Control"]
    removes = row(panel, "modifiers").editor.findChildren(QToolButton, "removeRow")
    assert len(removes) == 2
    removes[0].click()
    assert params(doc, "click")["modifiers"] == ["Control"]
    doc.undo()
    doc.undo()
    doc.undo()
    assert params(doc, "click")["modifiers"] == ["Shift"]


def test_an_invalid_value_from_the_file_is_shown_raw_and_kept_on_save(
    panel: PropertiesPanel, doc: FlowDocument, tmp_path: Path
) -> None:
    doc.selection.select(["click"])
    count = row(panel, "click_count")
    assert isinstance(count.editor, JsonEditor)
    assert count.editor.line.text() == '"three"'
    assert "kept as it is" in count.editor.message.text()
    bogus = row(panel, "bogus")
    assert isinstance(bogus.editor, JsonEditor)
    assert "not a param of this step" in bogus.label.text()
    row(panel, "force").editor.box.click()  # type: ignore[attr-defined]
    saved = json.loads(doc.save(tmp_path / "flow.json").read_text())
    node = saved["nodes"][1]
    assert node["params"]["click_count"] == "three"
    assert node["params"]["bogus"] == {"a": 1}
    assert node["params"]["force"] is True
    assert saved["x-kept"] == {"by": "another tool"}


def test_any_field_switches_to_an_expression_and_stores_it(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["call"])
    url = row(panel, "url")
    url.fx.click()
    assert isinstance(url.editor, ExpressionEdit)
    url.editor.editor.setPlainText("{{ inputs.base_url }}/api")
    url.editor.commit()
    assert params(doc, "call")["url"] == "{{ inputs.base_url }}/api"
    # Redrawn from the model: a template opens in the expression editor.
    assert isinstance(row(panel, "url").editor, ExpressionEdit)
    assert row(panel, "url").fx.isChecked()
    retries = row(panel, "retries")
    retries.fx.click()
    retries.editor.editor.setPlainText("{{ vars.total }}")  # type: ignore[attr-defined]
    retries.editor.commit()  # type: ignore[attr-defined]
    assert params(doc, "call")["retries"] == "{{ vars.total }}"


def test_node_settings_are_commands(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["call"])
    box = panel.content.findChild(NodeSettings)
    assert box is not None
    box.title_edit.setText("Call the API")
    box.title_edit.editingFinished.emit()
    assert doc.node("call")["name"] == "Call the API"
    box = panel.content.findChild(NodeSettings)
    box.attempts.setValue(3)
    box.backoff.setValue(2)
    box.attempts.editingFinished.emit()
    assert doc.node("call")["retry"] == {"max_attempts": 3, "backoff_s": 2.0}
    box = panel.content.findChild(NodeSettings)
    box.timeout.setValue(45)
    box.timeout.editingFinished.emit()
    assert doc.node("call")["timeout_s"] == 45
    box = panel.content.findChild(NodeSettings)
    box.on_error.activated.emit(1)
    assert doc.node("call")["on_error"] == "continue"
    box = panel.content.findChild(NodeSettings)
    box.disabled.click()
    assert doc.node("call")["disabled"] is True
    for _ in range(5):
        doc.undo()
    assert set(doc.node("call")) == {"id", "type", "params"}


def test_renaming_the_node_keeps_it_selected_and_undo_restores(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["call"])
    box = panel.content.findChild(NodeSettings)
    box.id_edit.setText("fetch")
    box.id_edit.editingFinished.emit()
    assert doc.selection.ids == {"fetch"}
    assert panel.node_id == "fetch"
    assert doc.raw["outputs"]["status"] == "{{ steps.fetch.output.status }}"
    box = panel.content.findChild(NodeSettings)
    box.id_edit.setText("open")  # taken
    box.id_edit.editingFinished.emit()
    assert panel.error.isVisibleTo(panel)
    assert "taken" in panel.error.text()
    doc.undo()
    assert "call" in doc.index


def test_pick_and_capture_requests_name_the_field(qtbot: QtBot, panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.selection.select(["click"])
    target = row(panel, "target").editor
    button = target.findChild(QPushButton, "pickElement")
    assert button is not None
    with qtbot.waitSignal(panel.pick_requested) as picked:
        button.click()
    assert picked.args == ["click", "$.params.target"]
    panel.set_value("click", "$.params.target", "role=button[name='Go']")
    assert params(doc, "click")["target"] == "role=button[name='Go']"
    descriptor = {"selector": "#go", "fallbacks": ["text=Go"]}
    panel.set_value("click", "$.params.target", descriptor)
    assert params(doc, "click")["target"] == descriptor
    assert row(panel, "target").editor.findChild(QPushButton, "pickElement") is not None
    doc.execute("add_node", id="tap", type="desktop.click", params={"target": "image:ok.png"})
    doc.selection.select(["tap"])
    capture = row(panel, "target").editor
    button = capture.findChild(QPushButton, "captureRegion")
    assert button is not None
    with qtbot.waitSignal(panel.capture_requested) as captured:
        button.click()
    assert captured.args == ["tap", "$.params.target"]


def test_problems_are_shown_next_to_their_field(panel: PropertiesPanel, doc: FlowDocument) -> None:
    validation = LiveValidation(doc, delay_s=0)
    doc.selection.select(["click"])
    validation.run()
    count = row(panel, "click_count")
    assert count.problems.isVisibleTo(panel)
    assert "integer" in count.problems.text()
    doc.selection.select(["call"])
    doc.execute("set_param", node="call", name="url", delete=True)
    validation.run()
    assert row(panel, "url").problems.isVisibleTo(panel)
    assert not row(panel, "method").problems.isVisibleTo(panel)


@pytest.mark.parametrize("node", ["click", "call"])
def test_screenshot_of_the_form(
    qtbot: QtBot, panel: PropertiesPanel, doc: FlowDocument, shots: Path, node: str
) -> None:
    if node == "call":
        doc.execute("set_param", node="call", name="auth", value={"kind": "bearer", "credential": "erp"})
    LiveValidation(doc, delay_s=0).run()
    doc.selection.select([node])
    panel.show()
    panel.content.adjustSize()
    picture = panel.content.grab()
    assert picture.height() > 600
    assert picture.save(str(shots / f"properties-{node}.png"))


def test_several_nodes_show_and_edit_what_they_share(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.execute("set_node_settings", node="open", disabled=True)
    doc.selection.select(["open", "click"])
    message = panel.content.findChild(QLabel, "panelMessage")
    assert message is not None
    assert message.text() == "2 nodes selected."
    shared = panel.content.findChild(SharedSettings)
    assert shared is not None
    assert shared.disabled.checkState() == Qt.CheckState.PartiallyChecked  # mixed
    assert shared.on_error.currentText() == "Fail the flow"  # the same on both
    shared.on_error.activated.emit(shared.on_error.findData("continue"))
    assert doc.node("open")["on_error"] == doc.node("click")["on_error"] == "continue"
    shared = panel.content.findChild(SharedSettings)
    shared.timeout.setValue(12)
    shared.timeout.editingFinished.emit()
    assert doc.node("open")["timeout_s"] == doc.node("click")["timeout_s"] == 12
    doc.undo()
    doc.undo()
    assert "on_error" not in doc.node("click")
    assert "timeout_s" not in doc.node("open")
    doc.selection.select(["click", "open"])
    doc.selection.select(["click", "call"])
    assert "2 nodes selected" in panel.content.findChild(QLabel, "panelMessage").text()  # type: ignore[union-attr]


def test_an_optional_number_without_default_can_stay_unset(panel: PropertiesPanel, doc: FlowDocument) -> None:
    doc.execute("add_node", id="sheet", type="excel.read", params={"path": "in.xlsx"})
    doc.selection.select(["sheet"])
    limit = row(panel, "limit").editor
    assert isinstance(limit, NumberEditor)
    assert limit.box.text() == "(not set)"
    limit.box.setValue(10)
    limit.box.editingFinished.emit()
    assert params(doc, "sheet")["limit"] == 10
    limit = row(panel, "limit").editor
    assert isinstance(limit, NumberEditor)
    limit.box.setValue(limit.box.minimum())
    limit.box.editingFinished.emit()
    assert "limit" not in params(doc, "sheet")
    assert isinstance(row(panel, "path").editor, FileEditor)
    assert isinstance(row(panel, "storage_credential").editor, CredentialEditor)
