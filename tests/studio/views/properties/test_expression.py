"""The expression editor: highlighting, completion from the flow, inline parse errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap, QTextCursor
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from shared.expressions._filters import FILTERS
from studio.model import FlowDocument
from studio.views.properties import ExpressionEdit, PropertiesPanel, completions, filter_names, highlighted_tokens
from studio.views.properties._expression import DARK_FORMATS, FORMATS, formats_for

pytestmark = pytest.mark.gui


def test_completion_offers_what_the_node_can_read(doc: FlowDocument) -> None:
    words = completions(doc, "call")
    assert {"inputs.base_url", "vars.total", "steps.open.output", "steps.click.output"} <= set(words)
    assert "steps.call.output" not in words  # itself
    assert "steps.later.output" not in words  # runs after it
    assert "item" not in words
    inside = completions(doc, "show")  # in the foreach body
    assert {"item", "index", "steps.call.output", "steps.open.output"} <= set(inside)
    assert "steps.each.output" not in inside


def test_the_filters_come_from_the_engine() -> None:
    names = filter_names()
    assert set(FILTERS) <= set(names)
    assert {"upper", "default", "jmespath", "to_int"} <= set(names)


def _type_at_end(edit: ExpressionEdit, text: str) -> None:
    edit.editor.setPlainText(text)
    cursor = edit.editor.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    edit.editor.setTextCursor(cursor)


def _offered(edit: ExpressionEdit) -> list[str]:
    model = edit.completer.completionModel()
    return [model.index(n, 0).data() for n in range(model.rowCount())]


def test_the_popup_completes_names_and_filters(qtbot: QtBot, doc: FlowDocument) -> None:
    edit = ExpressionEdit(lambda: completions(doc, "call"))
    qtbot.addWidget(edit)
    edit.show()
    _type_at_end(edit, "{{ steps.")
    edit.complete()
    assert _offered(edit) == ["steps.click.output", "steps.open.output"]  # nearest first
    edit.completer.activated.emit("steps.click.output")
    assert edit.text() == "{{ steps.click.output"
    _type_at_end(edit, "{{ inputs.base_url | to_")
    edit.complete()
    assert {"to_int", "to_json", "to_date"} <= set(_offered(edit))
    assert all(word.startswith("to_") for word in _offered(edit))


def test_highlighting_marks_the_tokens(qtbot: QtBot) -> None:
    edit = ExpressionEdit()
    qtbot.addWidget(edit)
    edit.set_text('Dear {{ inputs.name | upper }}, {{ 3 + vars.total }} "{{ "x" }}"')
    tokens = highlighted_tokens(edit.editor.document())
    assert ("{{", "delim") in tokens
    assert ("inputs", "scope") in tokens
    assert ("name", "name") in tokens
    assert ("| upper", "filter") in tokens
    assert ("3", "number") in tokens
    assert ("+", "operator") in tokens
    assert ('"x"', "string") in tokens
    # Text outside {{ }} stays plain.
    assert not any(text in ("Dear", '"') for text, _ in tokens)


def test_a_parse_error_is_shown_with_its_line(qtbot: QtBot) -> None:
    edit = ExpressionEdit()
    qtbot.addWidget(edit)
    edit.set_text("first line\n{{ vars.total + }}")
    assert edit.error.isVisibleTo(edit)
    assert edit.error.text().startswith("line 2:")
    selections = edit.editor.extraSelections()
    assert len(selections) == 1
    assert selections[0].cursor.block().blockNumber() == 1
    edit.set_text("{{ vars.total | no_such_filter }}")
    assert "no_such_filter" in edit.error.text()
    edit.set_text("{{ vars.total + 1 }}")
    assert not edit.error.isVisibleTo(edit)
    assert edit.editor.extraSelections() == []


def test_commit_emits_once_per_change(qtbot: QtBot) -> None:
    edit = ExpressionEdit()
    qtbot.addWidget(edit)
    edit.set_text("{{ 1 }}")
    seen: list[str] = []
    edit.committed.connect(seen.append)
    edit.commit()
    assert seen == []
    edit.editor.setPlainText("{{ 2 }}")
    edit.commit()
    edit.commit()
    assert seen == ["{{ 2 }}"]


def _with_popup(widget: QWidget, edit: ExpressionEdit) -> QPixmap:
    """The widget's picture with the completion popup (a separate window) painted over it."""
    shot = widget.grab()
    popup = edit.completer.popup()
    assert popup is not None
    at = widget.mapFromGlobal(edit.editor.mapToGlobal(edit.editor.cursorRect().bottomLeft()))
    at.setX(min(at.x(), widget.width() - popup.width() - 24))
    painter = QPainter(shot)
    painter.drawPixmap(at + QPoint(0, 2), popup.grab())
    painter.end()
    return shot


def test_screenshot_of_the_expression_editor_with_completion(qtbot: QtBot, doc: FlowDocument, shots: Path) -> None:
    panel = PropertiesPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(420, 520)
    panel.show()
    doc.selection.select(["call"])
    row = panel.context.rows[("url",)]
    row.fx.click()
    edit = row.editor
    assert isinstance(edit, ExpressionEdit)
    qtbot.wait(50)
    edit.editor.setFocus()
    _type_at_end(edit, "{{ inputs.base_url }}/orders/{{ steps.")
    edit.complete()
    popup = edit.completer.popup()
    assert popup is not None
    popup.resize(220, 48)
    qtbot.waitUntil(popup.isVisible)
    qtbot.wait(50)
    picture = _with_popup(panel, edit)
    assert picture.save(str(shots / "expression-completion.png"))
    assert popup.model().rowCount() == 2


def test_a_dark_background_gets_the_dark_colours(qtbot: QtBot) -> None:
    dark = QWidget()
    qtbot.addWidget(dark)
    palette = dark.palette()
    palette.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setPalette(palette)
    edit = ExpressionEdit(parent=dark)
    edit.set_text("{{ inputs.name }}")
    assert edit.highlighter.formats is DARK_FORMATS
    assert ("inputs", "scope") in highlighted_tokens(edit.editor.document(), DARK_FORMATS)
    light = ExpressionEdit()
    qtbot.addWidget(light)
    assert light.highlighter.formats is formats_for(QColor("white")) is FORMATS
    light.set_text("{{ vars.total }}")
    light.setPalette(palette)  # the theme turned dark
    assert light.highlighter.formats is DARK_FORMATS
    assert ("vars", "scope") in highlighted_tokens(light.editor.document(), DARK_FORMATS)
