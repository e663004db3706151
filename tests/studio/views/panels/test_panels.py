"""Variables / inputs / outputs, flow settings and problems panels: each edit is one undoable
command, the widgets follow the model, the problems list follows validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox
from pytestqt.qtbot import QtBot

from studio.model import FlowDocument, LiveValidation, Settings
from studio.views.panels import SETTINGS_KEY, EntriesPanel, FlowSettingsPanel, ProblemsPanel, read_value

pytestmark = pytest.mark.gui


@pytest.fixture
def entries(qtbot: QtBot, doc: FlowDocument) -> EntriesPanel:
    panel = EntriesPanel(doc)
    qtbot.addWidget(panel)
    return panel


def test_cells_read_json_or_text() -> None:
    assert read_value("5") == 5
    assert read_value("[1, 2]") == [1, 2]
    assert read_value("true") is True
    assert read_value("{{ vars.x }}") == "{{ vars.x }}"
    assert read_value("hello") == "hello"


def test_variables_add_rename_remove_with_undo(entries: EntriesPanel, doc: FlowDocument) -> None:
    table = entries.tables["variables"]
    assert table.names == ["total", "unused"]
    table.add.click()
    assert doc.raw["variables"] == {"total": 0, "unused": "x", "var": None}
    assert table.names == ["total", "unused", "var"]
    table.table.item(2, 1).setText("[1, 2]")
    assert doc.raw["variables"]["var"] == [1, 2]
    table.table.item(0, 0).setText("sum")  # rename: references follow
    assert list(doc.raw["variables"]) == ["sum", "unused", "var"]
    assert table.names == ["sum", "unused", "var"]
    table.table.setCurrentCell(1, 0)
    table.remove.click()
    assert list(doc.raw["variables"]) == ["sum", "var"]
    for _ in range(4):
        doc.undo()
    assert doc.raw["variables"] == {"total": 0, "unused": "x"}
    assert table.names == ["total", "unused"]


def test_a_refused_rename_is_shown_and_changes_nothing(entries: EntriesPanel, doc: FlowDocument) -> None:
    table = entries.tables["variables"]
    table.table.item(0, 0).setText("unused")  # taken
    assert "taken" in table.error.text()
    assert table.table.item(0, 0).text() == "total"
    assert doc.raw["variables"] == {"total": 0, "unused": "x"}


def test_inputs_are_typed_and_renamed_with_their_references(entries: EntriesPanel, doc: FlowDocument) -> None:
    table = entries.tables["inputs"]
    kind = table.table.cellWidget(0, 1)
    assert isinstance(kind, QComboBox)
    assert kind.currentText() == "string"
    kind.activated.emit(kind.findText("integer"))
    assert doc.raw["inputs"]["base_url"] == {"type": "integer", "required": True}
    table.table.item(0, 2).setCheckState(Qt.CheckState.Unchecked)
    assert doc.raw["inputs"]["base_url"] == {"type": "integer"}
    table.table.item(0, 3).setText("8080")
    assert doc.raw["inputs"]["base_url"]["default"] == 8080
    table.table.item(0, 0).setText("host")
    assert doc.node("open")["params"]["url"] == "{{ inputs.host }}/login"
    outputs = entries.tables["outputs"]
    outputs.add.click()
    outputs.table.item(1, 1).setText("{{ vars.total }}")
    assert doc.raw["outputs"]["result"] == "{{ vars.total }}"


def test_settings_edit_and_follow_undo(qtbot: QtBot, doc: FlowDocument) -> None:
    panel = FlowSettingsPanel(doc)
    qtbot.addWidget(panel)
    assert {"browser", "desktop", "ocr"} <= set(panel.requires)
    panel.requires["browser"].click()
    assert doc.raw["requires"] == ["browser"]
    panel.priority.activated.emit(panel.priority.findText("high"))
    panel.max_concurrent.setValue(2)
    panel.max_concurrent.editingFinished.emit()
    panel.timeout.setValue(600)
    panel.timeout.editingFinished.emit()
    panel.hotkey.setText("ctrl+alt+i")
    panel.hotkey.editingFinished.emit()
    assert doc.raw["settings"] == {
        "priority": "high",
        "max_concurrent_executions": 2,
        "timeout_s": 600,
        "hotkey": "ctrl+alt+i",
    }
    panel.name.setText("Monthly invoices")
    panel.name.editingFinished.emit()
    assert doc.raw["name"] == "Monthly invoices"
    doc.undo()
    doc.undo()
    assert panel.hotkey.text() == ""
    assert panel.name.text() == "Invoices"
    panel.max_concurrent.setValue(0)
    panel.max_concurrent.editingFinished.emit()
    assert "max_concurrent_executions" not in doc.raw["settings"]


@pytest.fixture
def problems(qtbot: QtBot, doc: FlowDocument, tmp_path: Path) -> ProblemsPanel:
    validation = LiveValidation(doc, delay_s=0)
    panel = ProblemsPanel(doc, settings=Settings(tmp_path / "settings.json"), validation=validation)
    qtbot.addWidget(panel)
    panel.resize(760, 260)
    validation.run()
    return panel


def test_problems_follow_edits_and_double_click_selects_the_node(problems: ProblemsPanel, doc: FlowDocument) -> None:
    rows = problems.rows()
    assert any(rule == "unused-variable" for _, rule, _, _ in rows)
    assert any(severity == "error" and node == "click" for severity, _, _, node in rows)  # click_count "three"
    assert problems.tree.topLevelItemCount() == len(rows)
    doc.execute("set_param", node="call", name="url", delete=True)
    problems.validation.run()
    missing = [n for n in range(problems.tree.topLevelItemCount()) if problems.tree.topLevelItem(n).text(3) == "call"]
    assert missing
    item = problems.tree.topLevelItem(missing[0])
    problems.tree.itemDoubleClicked.emit(item, 0)
    assert doc.selection.ids == {"call"}
    doc.undo()
    problems.validation.run()
    assert all(problems.tree.topLevelItem(n).text(3) != "call" for n in range(problems.tree.topLevelItemCount()))


def test_the_timer_checks_again_after_an_edit(qtbot: QtBot, problems: ProblemsPanel, doc: FlowDocument) -> None:
    before = problems.tree.topLevelItemCount()
    doc.execute("set_entry", section="variables", name="spare", value=1)
    qtbot.waitUntil(lambda: problems.tree.topLevelItemCount() == before + 1, timeout=3000)


def test_a_rule_switched_off_hides_its_findings_and_is_remembered(
    qtbot: QtBot, problems: ProblemsPanel, doc: FlowDocument, tmp_path: Path
) -> None:
    assert any(rule == "unused-variable" for _, rule, _, _ in problems.rows())
    problems.rule_actions["unused-variable"].setChecked(False)
    assert not any(rule == "unused-variable" for _, rule, _, _ in problems.rows())
    texts = [problems.tree.topLevelItem(n).text(1) for n in range(problems.tree.topLevelItemCount())]
    assert "unused-variable" not in texts
    settings = Settings(tmp_path / "settings.json")
    assert settings.get(SETTINGS_KEY) == ["unused-variable"]
    again = ProblemsPanel(doc, settings=settings)
    qtbot.addWidget(again)
    assert not again.rule_actions["unused-variable"].isChecked()
    again.validation.run()
    assert not any(rule == "unused-variable" for _, rule, _, _ in again.rows())
    problems.rule_actions["unused-variable"].setChecked(True)
    assert any(rule == "unused-variable" for _, rule, _, _ in problems.rows())


def test_screenshots_of_the_panels(qtbot: QtBot, problems: ProblemsPanel, doc: FlowDocument, shots: Path) -> None:
    problems.show()
    assert problems.grab().save(str(shots / "problems.png"))
    entries = EntriesPanel(doc)
    qtbot.addWidget(entries)
    entries.resize(520, 220)
    entries.setCurrentIndex(1)
    entries.show()
    assert entries.grab().save(str(shots / "inputs.png"))
    settings = FlowSettingsPanel(doc)
    qtbot.addWidget(settings)
    settings.resize(460, 360)
    settings.show()
    assert settings.grab().save(str(shots / "flow-settings.png"))


def test_a_large_flow_is_checked_in_a_worker_thread(qtbot: QtBot, doc: FlowDocument, tmp_path: Path) -> None:
    validation = LiveValidation(doc, delay_s=0)
    panel = ProblemsPanel(doc, settings=Settings(tmp_path / "s.json"), validation=validation, off_thread_nodes=1)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() > 0, timeout=5000)
    doc.execute("set_entry", section="variables", name="spare", value=1)
    before = panel.tree.topLevelItemCount()
    panel.tick()
    assert panel.pending is not None  # submitted, not run on this thread
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == before + 1, timeout=5000)
    assert any("spare" in message for _, _, message, _ in panel.rows())
