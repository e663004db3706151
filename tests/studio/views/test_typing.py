"""Real keystrokes: typing is one command when the field is left, completion opens as names
are typed, and a closed panel stops following its document."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from studio.model import FlowDocument, LiveValidation, Settings
from studio.views.panels import EntriesPanel, FlowSettingsPanel, ProblemsPanel
from studio.views.properties import ExpressionEdit, PropertiesPanel
from studio.views.properties._fields import TextEditor

pytestmark = pytest.mark.gui


def test_typing_is_one_command_when_the_field_is_done(qtbot: QtBot, doc: FlowDocument) -> None:
    panel = PropertiesPanel(doc)
    qtbot.addWidget(panel)
    panel.show()
    doc.selection.select(["call"])
    editor = panel.context.rows[("url",)].editor
    assert isinstance(editor, TextEditor)
    editor.line.setFocus()
    editor.line.selectAll()
    qtbot.keyClicks(editor.line, "https://new.example")
    assert doc.node("call")["params"]["url"] == "https://api.example/v1"  # nothing yet
    assert not doc.dirty
    qtbot.keyClick(editor.line, Qt.Key.Key_Return)
    assert doc.node("call")["params"]["url"] == "https://new.example"
    assert doc.undo()
    assert not doc.undo_stack.undo_entry()  # exactly one step


def test_typing_a_dot_opens_the_completion(qtbot: QtBot, doc: FlowDocument) -> None:
    panel = PropertiesPanel(doc)
    qtbot.addWidget(panel)
    panel.show()
    doc.selection.select(["call"])
    row = panel.context.rows[("url",)]
    row.fx.click()
    edit = row.editor
    assert isinstance(edit, ExpressionEdit)
    edit.editor.setPlainText("")
    edit.editor.setFocus()
    qtbot.keyClicks(edit.editor, "{{ steps.")
    assert edit.popup_visible()
    model = edit.completer.completionModel()
    assert [model.index(n, 0).data() for n in range(model.rowCount())] == [
        "steps.click.output",
        "steps.open.output",
    ]
    qtbot.keyClicks(edit.editor, "op")
    assert edit.completer.completionPrefix() == "steps.op"
    edit.completer.popup().hide()  # type: ignore[union-attr]
    qtbot.keyClicks(edit.editor, "en.output }}")
    edit.editor.clearFocus()
    edit.commit()
    assert doc.node("call")["params"]["url"] == "{{ steps.open.output }}"


def test_closed_panels_stop_following_the_document(qtbot: QtBot, doc: FlowDocument, tmp_path: object) -> None:
    validation = LiveValidation(doc, delay_s=0)
    settings = Settings(tmp_path / "s.json")  # type: ignore[operator]
    panels: list[QWidget] = [
        PropertiesPanel(doc),
        EntriesPanel(doc),
        FlowSettingsPanel(doc),
        ProblemsPanel(doc, validation=validation, settings=settings),
    ]
    doc.selection.select(["call"])
    for panel in panels:
        panel.deleteLater()
    QApplication.processEvents()
    qtbot.wait(10)
    # Every kind of event, with no widget left to receive it.
    doc.execute("set_param", node="call", name="url", value="https://x")
    doc.execute("set_entry", section="variables", name="more", value=1)
    doc.execute("set_flow_settings", priority="high")
    doc.selection.select(["open"])
    validation.run()


def test_tab_commits_a_field_and_lands_in_the_next(qtbot: QtBot, doc: FlowDocument) -> None:
    panel = PropertiesPanel(doc)
    qtbot.addWidget(panel)
    panel.show()
    panel.activateWindow()
    qtbot.waitUntil(panel.isActiveWindow)  # Tab moves the focus only in the active window
    doc.selection.select(["call"])
    editor = panel.context.rows[("url",)].editor
    assert isinstance(editor, TextEditor)
    editor.line.setFocus()
    editor.line.selectAll()
    qtbot.keyClicks(editor.line, "https://tabbed.example")
    qtbot.keyClick(editor.line, Qt.Key.Key_Tab)
    assert doc.node("call")["params"]["url"] == "https://tabbed.example"
    focused = QApplication.focusWidget()
    assert focused is not None
    assert panel.content.isAncestorOf(focused)  # the redrawn form kept the focus
    assert focused is not panel.context.rows[("url",)].editor.line  # type: ignore[attr-defined]
    assert panel.context.rows[("query",)].isAncestorOf(focused)  # the field after url
