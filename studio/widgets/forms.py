"""A form generated from a flow's inputs: the studio's "Run with inputs" and the tray's run dialog.

It takes the flow's `inputs` object as plain JSON (`{name: {type, default, required,
description}}`), never the studio's model, so the tray can reuse it. The field kind follows the
input's `type`, and optional hints a spec may carry: `format` (`password`, `date`, `file`) and
`enum` (a choice). Without hints, a string input named like a secret (`password`, `token`,
`secret`, `pin`) is a password field, one named `..._date` or with an ISO date default a date,
one named `..._file` / `..._path` a file chooser. A password's value is masked in the field and
never logged; `repr` of the form shows no value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

_SECRET = re.compile(r"(password|passwd|secret|token|pin|passphrase|api_?key)", re.IGNORECASE)
_DATE = re.compile(r"(^|_)date$", re.IGNORECASE)
_FILE = re.compile(r"(^|_)(file|path)$", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def field_kind(name: str, spec: Mapping[str, Any]) -> str:
    """The widget an input gets.

    Returns:
        `text`, `password`, `number`, `integer`, `date`, `choice`, `checkbox`, `file` or `json`.
    """
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return "choice"
    kind = str(spec.get("type", "any"))
    hint = spec.get("format")
    if hint in ("password", "date", "file"):
        return str(hint)
    if kind == "boolean":
        return "checkbox"
    if kind in ("number", "integer"):
        return kind
    if kind in ("object", "array"):
        return "json"
    if _SECRET.search(name):
        return "password"
    default = spec.get("default")
    if _DATE.search(name) or (isinstance(default, str) and _ISO_DATE.match(default)):
        return "date"
    if _FILE.search(name):
        return "file"
    return "text"


@dataclass
class _Field:
    name: str
    kind: str
    spec: Mapping[str, Any]
    widget: QWidget
    read: Callable[[], tuple[Any, str | None]]
    """The value, or an error message."""
    error: QLabel


class RunForm(QWidget):
    """Fields for a flow's inputs with their defaults, and a message next to each bad one.

    Args:
        inputs: the flow's `inputs` object (`{name: spec}`).
        parent: the Qt parent.
    """

    def __init__(self, inputs: Mapping[str, Mapping[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields: dict[str, _Field] = {}
        layout = QFormLayout(self)
        for name, spec in inputs.items():
            spec = spec if isinstance(spec, Mapping) else {}
            kind = field_kind(name, spec)
            widget, read = _build(kind, name, spec)
            widget.setObjectName(f"input-{name}")
            error = QLabel()
            error.setObjectName(f"error-{name}")
            error.setStyleSheet("color: #c62828;")
            error.setVisible(False)
            cell = QWidget()
            row = QHBoxLayout(cell)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(widget, 1)
            row.addWidget(error)
            label = name + (" *" if spec.get("required") else "")
            layout.addRow(label, cell)
            description = spec.get("description")
            if description:
                widget.setToolTip(str(description))
            self.fields[name] = _Field(name, kind, spec, widget, read, error)

    def __repr__(self) -> str:
        return f"RunForm(fields={list(self.fields)})"

    def errors(self) -> dict[str, str]:
        """Check every field; show each message next to its field. {name: message} of the bad ones."""
        found: dict[str, str] = {}
        for name, item in self.fields.items():
            _, message = item.read()
            item.error.setText(message or "")
            item.error.setVisible(message is not None)
            if message is not None:
                found[name] = message
        return found

    def values(self) -> dict[str, Any] | None:
        """The inputs to run with (left-out optional fields are absent), or None when a field is bad."""
        if self.errors():
            return None
        result: dict[str, Any] = {}
        for name, item in self.fields.items():
            value, _ = item.read()
            if value is not None:
                result[name] = value
        return result


def _required(spec: Mapping[str, Any], value: Any) -> tuple[Any, str | None]:
    if value is None and spec.get("required"):
        return None, "required"
    return value, None


def _text(kind: str, spec: Mapping[str, Any]) -> tuple[QWidget, Callable[[], tuple[Any, str | None]]]:
    edit = QLineEdit()
    default = spec.get("default")
    if default is not None:
        edit.setText(default if isinstance(default, str) else json.dumps(default))
    if kind == "password":
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    elif kind in ("number", "integer"):
        edit.setPlaceholderText("a whole number" if kind == "integer" else "a number")
    elif kind == "json":
        edit.setPlaceholderText("JSON, e.g. " + ("[1, 2]" if spec.get("type") == "array" else '{"a": 1}'))

    def read() -> tuple[Any, str | None]:
        text = edit.text()
        if text == "":
            return _required(spec, None)
        return _convert(kind, text, str(spec.get("type")))

    return edit, read


def _convert(kind: str, text: str, expected: str) -> tuple[Any, str | None]:
    if kind == "integer":
        try:
            return int(text.strip()), None
        except ValueError:
            return None, f"'{text}' is not a whole number"
    if kind == "number":
        try:
            number = float(text.strip().replace(",", "."))
        except ValueError:
            return None, f"'{text}' is not a number"
        return (int(number) if number.is_integer() and "." not in text else number), None
    if kind == "json":
        return _json(text, expected)
    return text, None


def _json(text: str, expected: str) -> tuple[Any, str | None]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not JSON: {err.msg} at column {err.colno}"
    wanted = {"object": dict, "array": list}.get(expected)
    if wanted is not None and not isinstance(value, wanted):
        return None, f"expected a JSON {expected}"
    return value, None


def _date(spec: Mapping[str, Any]) -> tuple[QWidget, Callable[[], tuple[Any, str | None]]]:
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    default = spec.get("default")
    try:
        start = date.fromisoformat(default) if isinstance(default, str) else date.today()
    except ValueError:
        start = date.today()
    edit.setDate(QDate(start.year, start.month, start.day))

    def read() -> tuple[Any, str | None]:
        return edit.date().toString("yyyy-MM-dd"), None

    return edit, read


def _choice(spec: Mapping[str, Any]) -> tuple[QWidget, Callable[[], tuple[Any, str | None]]]:
    combo = QComboBox()
    options = list(spec.get("enum") or [])
    if not spec.get("required"):
        combo.addItem("", None)
    for option in options:
        combo.addItem(str(option), option)
    if spec.get("default") in options:
        combo.setCurrentIndex(combo.findData(spec["default"]))

    def read() -> tuple[Any, str | None]:
        return _required(spec, combo.currentData())

    return combo, read


def _checkbox(spec: Mapping[str, Any]) -> tuple[QWidget, Callable[[], tuple[Any, str | None]]]:
    box = QCheckBox()
    box.setChecked(bool(spec.get("default")))
    return box, lambda: (box.isChecked(), None)


def _file(name: str, spec: Mapping[str, Any]) -> tuple[QWidget, Callable[[], tuple[Any, str | None]]]:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    edit = QLineEdit(str(spec.get("default") or ""))
    edit.setObjectName(f"path-{name}")
    button = QPushButton("Browse…")

    def browse() -> None:
        chosen, _ = QFileDialog.getOpenFileName(holder, f"Choose {name}")
        if chosen:
            edit.setText(chosen)

    button.clicked.connect(browse)
    row.addWidget(edit, 1)
    row.addWidget(button)

    def read() -> tuple[Any, str | None]:
        return _required(spec, edit.text() or None)

    return holder, read


def _build(kind: str, name: str, spec: Mapping[str, Any]) -> tuple[QWidget, Callable[[], tuple[Any, str | None]]]:
    if kind == "date":
        return _date(spec)
    if kind == "choice":
        return _choice(spec)
    if kind == "checkbox":
        return _checkbox(spec)
    if kind == "file":
        return _file(name, spec)
    return _text(kind, spec)


class RunFormDialog(QDialog):
    """The run form in a dialog: OK only closes it when every field is valid.

    Args:
        inputs: the flow's `inputs` object.
        title: the window title.
        parent: the Qt parent.
    """

    def __init__(
        self, inputs: Mapping[str, Mapping[str, Any]], title: str = "Run with inputs", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = RunForm(inputs, self)
        self.result_values: dict[str, Any] | None = None
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(buttons, alignment=Qt.AlignmentFlag.AlignRight)

    def accept(self) -> None:
        """Close with the values, unless a field is bad (its message shows)."""
        values = self.form.values()
        if values is None:
            return
        self.result_values = values
        super().accept()


__all__ = ["RunForm", "RunFormDialog", "field_kind"]
