"""The tray's dialog host: shows a dialog step's request on the UI thread and awaits the answer.

Dialogs open non-modal (`open()`), so the event loop (qasync: Qt's and asyncio's in one) keeps
running the agent meanwhile; the step awaits a future the dialog's `finished` signal resolves.
A rejected dialog (Cancel, Escape, closed) raises `DialogCancelled`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agent.attended import DialogCancelled, DialogRequest, FormField, check_answers


class AnswerDialog(QDialog):
    """One dialog of a step: its widgets, and how to read the answer from them."""

    def __init__(self, request: DialogRequest) -> None:
        super().__init__(None, Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName(f"dialog-{request.kind}")
        self.setWindowTitle(request.title)
        self.request = request
        self.layout_ = QVBoxLayout(self)
        if request.message:
            message = QLabel(request.message)
            message.setWordWrap(True)
            self.layout_.addWidget(message)
        self.read: Callable[[], Any] = lambda: None
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #d13a2f")
        builders: dict[str, Callable[[], None]] = {
            "message": lambda: None,
            "confirm": self._confirm,
            "input": self._form,
            "select": self._select,
            "review_table": self._table,
        }
        builders[request.kind]()
        self.layout_.addWidget(self.problem)
        buttons = QDialogButtonBox(self._buttons())
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.layout_.addWidget(buttons)

    def _buttons(self) -> QDialogButtonBox.StandardButton:
        ok, cancel = QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Cancel
        if self.request.kind == "confirm":
            return QDialogButtonBox.StandardButton.Yes | QDialogButtonBox.StandardButton.No
        return ok if self.request.kind == "message" else ok | cancel

    def _confirm(self) -> None:
        self.read = lambda: True
        self.no = False

    def _form(self) -> None:
        form = QFormLayout()
        editors: dict[str, Callable[[], Any]] = {}
        for spec in self.request.fields:
            widget, reader = _field_editor(spec)
            widget.setObjectName(f"field-{spec.name}")
            form.addRow(QLabel(spec.label + (" *" if spec.required else "")), widget)
            editors[spec.name] = reader
        self.layout_.addLayout(form)
        self.read = lambda: {name: reader() for name, reader in editors.items()}

    def _select(self) -> None:
        options = QListWidget()
        options.setObjectName("options")
        options.addItems(list(self.request.options))
        options.setSelectionMode(
            QListWidget.SelectionMode.MultiSelection
            if self.request.multiple
            else QListWidget.SelectionMode.SingleSelection
        )
        options.setCurrentRow(0)
        self.layout_.addWidget(options)

        def read() -> Any:
            chosen = [item.text() for item in options.selectedItems()]
            return chosen if self.request.multiple else (chosen[0] if chosen else None)

        self.read = read

    def _table(self) -> None:
        rows = self.request.table
        names = list(rows[0]) if rows else []
        table = QTableWidget(len(rows), len(names))
        table.setObjectName("table")
        table.setHorizontalHeaderLabels(names)
        for r, row in enumerate(rows):
            for c, name in enumerate(names):
                item = QTableWidgetItem("" if row.get(name) is None else str(row.get(name)))
                if not self.request.editable:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                table.setItem(r, c, item)
        self.layout_.addWidget(table)

        def read() -> list[dict[str, Any]]:
            result = []
            for r, row in enumerate(rows):
                edited = {}
                for c, name in enumerate(names):
                    item = table.item(r, c)
                    edited[name] = _typed_like(row.get(name), item.text() if item is not None else "")
                result.append(edited)
            return result

        self.read = read

    def _accept(self) -> None:
        if self.request.kind == "input":
            problems = check_answers(self.request.fields, self.read())
            if problems:
                self.problem.setText("; ".join(problems))
                return
        self.accept()

    def reject(self) -> None:
        """No (for a confirm) is an answer; Cancel or Escape elsewhere cancels."""
        if self.request.kind == "confirm":
            self.read = lambda: False
            self.done(QDialog.DialogCode.Accepted)
            return
        super().reject()


def _typed_like(original: Any, text: str) -> Any:
    """A cell's edited text, as the original cell's type (numbers stay numbers)."""
    if isinstance(original, bool):
        return text.strip().lower() in ("true", "1", "yes")
    for kind in (int, float):
        if isinstance(original, kind):
            try:
                return kind(text)
            except ValueError:
                return text
    return None if original is None and not text else text


def _field_editor(spec: FormField) -> tuple[QWidget, Callable[[], Any]]:
    if spec.type == "checkbox":
        box = QCheckBox()
        box.setChecked(bool(spec.default))
        return box, box.isChecked
    if spec.type == "number":
        spin = QDoubleSpinBox()
        spin.setRange(
            spec.minimum if spec.minimum is not None else -1e12, spec.maximum if spec.maximum is not None else 1e12
        )
        spin.setValue(float(spec.default or 0))
        return spin, lambda: int(spin.value()) if spin.value().is_integer() else spin.value()
    if spec.type == "choice":
        combo = QComboBox()
        combo.addItems(list(spec.options))
        if spec.default in spec.options:
            combo.setCurrentText(str(spec.default))
        return combo, combo.currentText
    line = QLineEdit("" if spec.default is None else str(spec.default))
    if spec.type == "password":
        line.setEchoMode(QLineEdit.EchoMode.Password)
    if spec.type == "date":
        line.setPlaceholderText("YYYY-MM-DD")
    return line, lambda: line.text() or None


class QtDialogHost:
    """Shows dialog steps' requests with Qt; register it with `agent.attended.register_host`."""

    def __init__(self) -> None:
        self.open: list[QDialog] = []
        """The dialogs shown now (tests answer them)."""

    async def ask(self, request: DialogRequest) -> Any:
        """Show the request and wait for the answer."""
        if request.kind in ("choose_file", "choose_folder"):
            return await self._choose(request)
        dialog = AnswerDialog(request)
        return await self._wait(dialog, lambda: dialog.read())

    async def _choose(self, request: DialogRequest) -> str:
        dialog = QFileDialog(None, request.title or request.message)
        dialog.setObjectName(f"dialog-{request.kind}")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        if request.kind == "choose_folder":
            dialog.setFileMode(QFileDialog.FileMode.Directory)
        else:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
            if request.filters:
                dialog.setNameFilter(" ".join(request.filters))
        answer: str = await self._wait(dialog, lambda: (dialog.selectedFiles() or [""])[0])
        return answer

    async def _wait(self, dialog: QDialog, read: Callable[[], Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def finished(code: int) -> None:
            if future.done():
                return
            if code == QDialog.DialogCode.Accepted.value:
                future.set_result(read())
            else:
                future.set_exception(DialogCancelled())

        dialog.finished.connect(finished)
        self.open.append(dialog)
        dialog.open()
        try:
            return await future
        finally:
            self.open.remove(dialog)
            dialog.close()
            dialog.deleteLater()
