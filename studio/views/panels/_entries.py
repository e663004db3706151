"""The variables, inputs and outputs of the flow: one table each, edited through the
`set_entry` / `rename_entry` / `remove_entry` commands.

A value cell shows a text as it is and any other value as JSON; typed text that reads as JSON
(a number, true, a list...) is stored as that value, anything else as text.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from shared.flow._model import ValueType
from studio.model import CommandError, FlowChanged, FlowDocument

VALUE_TYPES: tuple[str, ...] = get_args(ValueType)


def show_value(value: Any) -> str:
    """A cell's text: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def read_value(text: str) -> Any:
    """A typed cell: JSON when it reads as a non-text JSON value, else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return text if isinstance(value, str) else value


COLUMNS = {
    "variables": ("Name", "Initial value"),
    "inputs": ("Name", "Type", "Required", "Default", "Description"),
    "outputs": ("Name", "Value"),
}
NEW = {"variables": ("var", None), "inputs": ("input", {"type": "string"}), "outputs": ("result", "")}


class EntryTable(QWidget):
    """The entries of one section (`variables`, `inputs` or `outputs`)."""

    def __init__(self, document: FlowDocument, section: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document, self.section = document, section
        self.setObjectName(f"entries:{section}")
        self.table = QTableWidget(0, len(COLUMNS[section]), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS[section]))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.add = QPushButton("Add", self)
        self.remove = QPushButton("Remove", self)
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.add)
        buttons.addWidget(self.remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        self.names: list[str] = []
        self._loading = False
        self.add.clicked.connect(self.add_entry)
        self.remove.clicked.connect(self.remove_selected)
        self.table.itemChanged.connect(self._edited)
        self.refresh()

    def entries(self) -> dict[str, Any]:
        """The section's entries as the document holds them."""
        found = self.document.raw.get(self.section)
        return found if isinstance(found, dict) else {}

    def refresh(self) -> None:
        """Redraw from the document."""
        self._loading = True
        try:
            entries = self.entries()
            self.names = list(entries)
            self.table.setRowCount(len(entries))
            for row, (name, value) in enumerate(entries.items()):
                self.table.setItem(row, 0, QTableWidgetItem(name))
                if self.section == "inputs":
                    self._input_row(row, value if isinstance(value, dict) else {})
                else:
                    self.table.setItem(row, 1, QTableWidgetItem(show_value(value)))
        finally:
            self._loading = False

    def _input_row(self, row: int, spec: dict[str, Any]) -> None:
        kind = QComboBox()
        kind.addItems(list(VALUE_TYPES))
        kind.setCurrentText(str(spec.get("type", "any")))
        kind.activated.connect(lambda index, r=row: self._set_input(r, type=VALUE_TYPES[index]))
        self.table.setCellWidget(row, 1, kind)
        required = QTableWidgetItem()
        required.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        required.setCheckState(Qt.CheckState.Checked if spec.get("required") else Qt.CheckState.Unchecked)
        self.table.setItem(row, 2, required)
        self.table.setItem(row, 3, QTableWidgetItem("" if spec.get("default") is None else show_value(spec["default"])))
        self.table.setItem(row, 4, QTableWidgetItem(str(spec.get("description", ""))))

    # -- edits ------------------------------------------------------------------------------

    def send(self, kind: str, **args: Any) -> bool:
        """Run one command; a refused one is shown under the table and the table redrawn."""
        try:
            self.document.execute(kind, section=self.section, **args)
        except CommandError as err:
            self.error.setText(str(err))
            self.error.show()
            self.refresh()
            return False
        self.document.seal()
        self.error.hide()
        return True

    def add_entry(self) -> None:
        """Add an entry with a fresh name."""
        base, value = NEW[self.section]
        name, number = base, 2
        while name in self.entries():
            name, number = f"{base}_{number}", number + 1
        self.send("set_entry", name=name, value=value)

    def remove_selected(self) -> None:
        """Remove the entry of the current row."""
        row = self.table.currentRow()
        if 0 <= row < len(self.names):
            self.send("remove_entry", name=self.names[row])

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._loading or item.row() >= len(self.names):
            return
        name, column, text = self.names[item.row()], item.column(), item.text()
        if column == 0:
            if text != name:
                self.send("rename_entry", old=name, new=text)
        elif self.section != "inputs":
            self.send("set_entry", name=name, value=read_value(text))
        elif column == 2:
            self._set_input(item.row(), required=item.checkState() == Qt.CheckState.Checked)
        elif column == 3:
            self._set_input(item.row(), default=read_value(text) if text else None)
        elif column == 4:
            self._set_input(item.row(), description=text)

    def _set_input(self, row: int, **changes: Any) -> None:
        name = self.names[row]
        spec = dict(self.entries().get(name) or {})
        for key, value in changes.items():
            if value is None or (key == "required" and value is False) or (key == "description" and not value):
                spec.pop(key, None)
            else:
                spec[key] = value
        self.send("set_entry", name=name, value=spec)


class EntriesPanel(QTabWidget):
    """Variables, inputs and outputs, one tab each, following `FlowChanged`."""

    def __init__(self, document: FlowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("entriesPanel")
        self.document = document
        self.tables = {section: EntryTable(document, section) for section in COLUMNS}
        for section, table in self.tables.items():
            self.addTab(table, section.capitalize())
        disconnect = document.events.connect(FlowChanged, self._on_changed)
        self.destroyed.connect(lambda: disconnect())

    def _on_changed(self, event: FlowChanged) -> None:
        for section, table in self.tables.items():
            if section in event.keys:
                table.refresh()
