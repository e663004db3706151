"""The expression editor: a template field with highlighting, completion and inline errors.

Highlighting is a `QSyntaxHighlighter` over the `{{ }}` / `{% %}` parts (names, strings, numbers,
operators, filters); the text outside them is plain. Completion offers the names the node can
read (`_scope.completions`) and, after a `|`, the engine's filters. A syntax error is found
with the engine's own parser (`shared.expressions.check_syntax`) and shown under the field with
its line, the line underlined.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QEvent, QStringListModel, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QFont,
    QKeyEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QCompleter, QLabel, QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from shared.expressions import check_syntax
from studio.views.properties._scope import SCOPE_NAMES, filter_names

_TOKEN = re.compile(
    r"(?P<delim>\{\{-?|-?\}\}|\{%-?|-?%\})"
    r"|(?P<string>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?)"
    r"|(?P<number>\b\d+(?:\.\d+)?\b)"
    r"|(?P<filter>\|\s*[A-Za-z_]\w*)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<operator>==|!=|<=|>=|\*\*|//|[-+*/%<>=~.,()\[\]:])"
)
_OPEN = re.compile(r"\{\{-?|\{%-?")
_KEYWORDS = {"and", "or", "not", "in", "is", "if", "else", "for", "endfor", "endif", "true", "false", "none"}
_LINE = re.compile(r"\(line (\d+)\)\s*$")
_WORD = re.compile(r"[A-Za-z_][\w.]*$")


def _format(color: str, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


FORMATS: dict[str, QTextCharFormat] = {
    "delim": _format("#8e44ad", bold=True),
    "string": _format("#1e8449"),
    "number": _format("#b9770e"),
    "filter": _format("#2874a6", italic=True),
    "scope": _format("#c0392b", bold=True),
    "name": _format("#34495e"),
    "keyword": _format("#7d3c98"),
    "operator": _format("#616a6b"),
}
"""The format of each token kind on a light background (tests read them back from the blocks)."""

DARK_FORMATS: dict[str, QTextCharFormat] = {
    "delim": _format("#c39bd3", bold=True),
    "string": _format("#7dcea0"),
    "number": _format("#f8c471"),
    "filter": _format("#85c1e9", italic=True),
    "scope": _format("#f1948a", bold=True),
    "name": _format("#d6dbdf"),
    "keyword": _format("#d2b4de"),
    "operator": _format("#aab7b8"),
}
"""The same on a dark background (a dark theme: the editor's base colour is dark)."""


def formats_for(widget_base: QColor) -> dict[str, QTextCharFormat]:
    """The formats that read on a background of colour `widget_base`."""
    return DARK_FORMATS if widget_base.lightness() < 128 else FORMATS


_INSIDE = 1


class ExpressionHighlighter(QSyntaxHighlighter):
    """Colours the template parts of the text; state 1 = a line that ends inside `{{ }}`."""

    formats: dict[str, QTextCharFormat] = FORMATS

    def highlightBlock(self, text: str) -> None:
        inside = self.previousBlockState() == _INSIDE
        position = 0
        while position < len(text):
            if not inside:
                opening = _OPEN.search(text, position)
                if opening is None:
                    break
                self.setFormat(opening.start(), opening.end() - opening.start(), self.formats["delim"])
                inside, position = True, opening.end()
                continue
            match = _TOKEN.search(text, position)
            if match is None:
                break
            position = max(match.end(), position + 1)
            kind = match.lastgroup or ""
            if kind == "delim":
                inside = match.group().lstrip("-").startswith(("{{", "{%"))
            elif kind == "name":
                kind = self._name_kind(text, match.start(), match.group())
            self.setFormat(match.start(), match.end() - match.start(), self.formats[kind])
        self.setCurrentBlockState(_INSIDE if inside else 0)

    @staticmethod
    def _name_kind(text: str, start: int, word: str) -> str:
        if word.lower() in _KEYWORDS:
            return "keyword"
        if word in SCOPE_NAMES and not text[:start].rstrip().endswith("."):
            return "scope"
        return "name"


def syntax_problem(text: str) -> tuple[int, str] | None:
    """(line, message) of the first syntax error of a template, line counted from 1; None if fine."""
    problems = check_syntax(text)
    if not problems:
        return None
    message = problems[0][1]
    found = _LINE.search(message)
    line = int(found.group(1)) if found else 1
    return line, _LINE.sub("", message).strip()


class ExpressionEdit(QWidget):
    """A template editor (a few lines tall) with completion and an inline error line.

    Emits `committed(text)` when focus leaves after a change (one undo step per edit).

    Args:
        words: called for the names to complete (changes as the flow changes).
    """

    committed = Signal(str)

    def __init__(self, words: Callable[[], list[str]] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = _Editor(self)
        self.error = QLabel(self)
        self.error.setObjectName("expressionError")
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.editor)
        layout.addWidget(self.error)
        self.highlighter = ExpressionHighlighter(self.editor.document())
        self.highlighter.formats = formats_for(self.palette().base().color())
        self.words = words or (list)
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setWidget(self.editor)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self._insert)
        self.editor.textChanged.connect(self.check)
        self._committed_text = ""

    def changeEvent(self, event: QEvent) -> None:
        """Follow a theme switch: pick the colours for the new background."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "highlighter"):
            formats = formats_for(self.palette().base().color())
            if formats is not self.highlighter.formats:
                self.highlighter.formats = formats
                self.highlighter.rehighlight()

    # -- value ------------------------------------------------------------------------------

    def text(self) -> str:
        """The text as typed."""
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        """Show `text` (from the model: no commit)."""
        if text != self.text():
            self.editor.setPlainText(text)
        self._committed_text = text
        self.check()

    def commit(self) -> None:
        """Emit `committed` if the text changed since it was shown or last committed."""
        text = self.text()
        if text != self._committed_text:
            self._committed_text = text
            self.committed.emit(text)

    # -- errors -----------------------------------------------------------------------------

    def check(self) -> tuple[int, str] | None:
        """Parse the text with the engine's parser; show the first error with its line."""
        problem = syntax_problem(self.text())
        selections: list[QTextEdit.ExtraSelection] = []
        if problem is None:
            self.error.hide()
        else:
            line, message = problem
            self.error.setText(f"line {line}: {message}")
            self.error.show()
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(QColor("#c0392b"))
            fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
            block = self.editor.document().findBlockByLineNumber(line - 1)
            cursor = QTextCursor(block)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor
            selection.format = fmt
            selections.append(selection)
        self.editor.setExtraSelections(selections)
        return problem

    # -- completion -------------------------------------------------------------------------

    def prefix(self) -> tuple[str, bool]:
        """The word being typed before the cursor, and whether it follows a `|` (a filter)."""
        cursor = self.editor.textCursor()
        before = self.text()[: cursor.position()]
        word = _WORD.search(before)
        typed = word.group() if word else ""
        rest = before[: len(before) - len(typed)].rstrip()
        return typed, rest.endswith("|")

    def complete(self) -> None:
        """Open the completion popup for the word before the cursor."""
        typed, after_pipe = self.prefix()
        self.model.setStringList(filter_names() if after_pipe else self.words())
        self.completer.setCompletionPrefix(typed)
        rect = self.editor.cursorRect()
        rect.setWidth(260)
        self.completer.complete(rect)

    def popup_visible(self) -> bool:
        """Whether the completion list is open."""
        popup = self.completer.popup()
        return popup is not None and popup.isVisible()

    def _insert(self, chosen: str) -> None:
        typed, _ = self.prefix()
        cursor = self.editor.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(typed))
        cursor.insertText(chosen)
        self.editor.setTextCursor(cursor)


class _Editor(QPlainTextEdit):
    """The text part: Ctrl+Space or typing `.`/`|` completes, focus-out commits."""

    def __init__(self, owner: ExpressionEdit) -> None:
        super().__init__(owner)
        self.owner = owner
        self.setTabChangesFocus(True)
        self.setFont(QFont("monospace"))
        self.setMaximumHeight(self.fontMetrics().lineSpacing() * 4 + 12)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        shown = self.owner.popup_visible()
        if shown and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            event.ignore()
            return
        if event.key() == Qt.Key.Key_Space and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.owner.complete()
            return
        super().keyPressEvent(event)
        typed, _ = self.owner.prefix()
        if event.text() in (".", "|") or (shown and typed):
            self.owner.complete()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if not self.owner.popup_visible():
            self.owner.commit()


def highlighted_tokens(document: QTextDocument, formats: dict[str, QTextCharFormat] = FORMATS) -> list[tuple[str, str]]:
    """(text, token kind) of each highlighted range of a document (for tests and screenshots)."""
    colours = {(f.foreground().color().name(), f.fontWeight(), f.fontItalic()): n for n, f in formats.items()}
    found: list[tuple[str, str]] = []
    block = document.begin()
    while block.isValid():
        layout = block.layout()
        for fmt_range in layout.formats() if layout is not None else ():
            key = (
                fmt_range.format.foreground().color().name(),
                fmt_range.format.fontWeight(),
                fmt_range.format.fontItalic(),
            )
            text = block.text()[fmt_range.start : fmt_range.start + fmt_range.length]
            found.append((text, colours.get(key, "?")))
        block = block.next()
    return found
