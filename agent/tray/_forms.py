"""The run form: a small Qt form from a flow's declared inputs (the tray's own; the agent may not
import the studio's). Strings, numbers, integers, booleans; anything else as JSON text."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from agent.attended import CachedFlow


class RunForm(QDialog):
    """Asks a flow's inputs before a run; `values()` once accepted."""

    def __init__(self, flow: CachedFlow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Run {flow.name}")
        self.flow = flow
        self.editors: dict[str, QWidget] = {}
        layout = QFormLayout(self)
        for name, spec in flow.flow().inputs.items():
            editor = self._editor(spec.type, spec.default)
            editor.setObjectName(f"input-{name}")
            editor.setToolTip(spec.description)
            self.editors[name] = editor
            layout.addRow(QLabel(name + (" *" if spec.required else "")), editor)
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #d13a2f")
        layout.addRow(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    @staticmethod
    def _editor(kind: str, default: Any) -> QWidget:
        if kind == "boolean":
            box = QCheckBox()
            box.setChecked(bool(default))
            return box
        if kind == "integer":
            spin = QSpinBox()
            spin.setRange(-2_000_000_000, 2_000_000_000)
            spin.setValue(int(default or 0))
            return spin
        if kind == "number":
            number = QDoubleSpinBox()
            number.setRange(-1e12, 1e12)
            number.setDecimals(4)
            number.setValue(float(default or 0))
            return number
        line = QLineEdit()
        if default is not None:
            line.setText(default if isinstance(default, str) else json.dumps(default))
        return line

    def values(self) -> dict[str, Any]:
        """The inputs as typed (text that is not a string input is read as JSON)."""
        found: dict[str, Any] = {}
        inputs = self.flow.flow().inputs
        for name, editor in self.editors.items():
            if isinstance(editor, QCheckBox):
                found[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                found[name] = editor.value()
            elif isinstance(editor, QLineEdit):
                text = editor.text()
                if inputs[name].type in ("string", "any") or not text:
                    if text or inputs[name].required:
                        found[name] = text
                else:
                    found[name] = json.loads(text)
        return found

    def _accept(self) -> None:
        inputs = self.flow.flow().inputs
        try:
            values = self.values()
        except ValueError:
            self.problem.setText("a value is not valid JSON")
            return
        missing = [n for n, spec in inputs.items() if spec.required and values.get(n) in (None, "")]
        if missing:
            self.problem.setText(f"required: {', '.join(missing)}")
            return
        self.accept()
