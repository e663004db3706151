"""The publish dialog (a note) and the start-execution dialog (the flow's input form, a priority,
then the execution's id and, while it waits, why)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from shared.client import ApiError, Execution
from studio.views.remote._tasks import spawn
from studio.widgets.forms import RunForm

PRIORITIES = ("low", "normal", "high", "urgent")


class PublishDialog(QDialog):
    """Asks for the note of the version about to be published."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orchestrator-publish")
        self.setWindowTitle(f"Publish “{name}”")
        self.note = QLineEdit()
        self.note.setObjectName("note")
        self.note.setMaxLength(500)
        self.note.setPlaceholderText("What changed, for the versions list")
        self.note.setMinimumWidth(360)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Publish", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Note", self.note)
        self.body = layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.breaking: QWidget | None = None
        """The callers this publish would break, once asked (`_assist.add_breaking_changes`)."""
        self.loading: asyncio.Task[Any] | None = None


Starter = Callable[[dict[str, Any], str | None], Execution]
Reader = Callable[[str], Execution]


class StartExecutionDialog(QDialog):
    """The flow's inputs and a priority; Start starts it on the orchestrator and shows the id, the
    state and, while it is queued, the orchestrator's reason for the wait.

    Args:
        name: the workflow's name.
        inputs: the `inputs` of the version that will run.
        start: `(inputs, priority or None) -> Execution`, blocking (run in a worker thread).
        read: `execution_id -> Execution`, blocking: reads the waiting reason.
    """

    def __init__(
        self,
        name: str,
        inputs: Mapping[str, Mapping[str, Any]],
        start: Starter,
        read: Reader,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("orchestrator-start")
        self.setWindowTitle(f"Start “{name}”")
        self._start, self._read = start, read
        self.execution: Execution | None = None
        self.form = RunForm(inputs, self)
        self.priority = QComboBox()
        self.priority.setObjectName("priority")
        self.priority.addItem("The flow's own", None)
        for priority in PRIORITIES:
            self.priority.addItem(priority, priority)
        self.status = QLabel("")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.start_button = buttons.addButton("Start", QDialogButtonBox.ButtonRole.ActionRole)
        self.start_button.clicked.connect(lambda: spawn(self.start()))
        buttons.rejected.connect(self.reject)
        options = QFormLayout()
        options.addRow("Priority", self.priority)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addLayout(options)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    async def start(self) -> Execution | None:
        """Start with the form's values (a bad field shows its message and nothing starts)."""
        values = self.form.values()
        if values is None:
            return None
        self.start_button.setEnabled(False)
        try:
            started = await asyncio.to_thread(self._start, values, self.priority.currentData())
            self.execution = await asyncio.to_thread(self._read, started.id)
        except ApiError as exc:
            self.status.setText(exc.message)
            return None
        finally:
            self.start_button.setEnabled(True)
        self.status.setText(describe(self.execution))
        return self.execution


def describe(execution: Execution) -> str:
    """`Execution 0192…: queued (high) — no agent of the organisation is online`."""
    text = f"Execution {execution.id}: {execution.state} ({execution.priority})"
    return f"{text} — {execution.waiting_reason}" if execution.waiting_reason else text
