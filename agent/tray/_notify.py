"""Desktop notifications of attended runs (start, finish, failure with its reason) and the run
details a click on one opens.

`RunNotifier` follows the attended controller and says each change once: a run that started, a
run that ended (its status from the journal's `execution.finished`). The tray shows the notice
with `QSystemTrayIcon.showMessage`, or in the fallback window's status line when there is no tray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from agent.attended import AttendedController, AttendedRun
from agent.runtime import AgentRuntime

MAX_LOG_LINES = 200


@dataclass(frozen=True)
class Notice:
    """One notification: about which run, its title and text, and whether it is bad news."""

    execution_id: str
    title: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """What a run's journal says about it, for its details dialog."""

    execution_id: str
    flow: str
    status: str
    error: str | None = None
    logs: tuple[str, ...] = ()
    artifacts: Path | None = None


def run_outcome(runtime: AgentRuntime, run: AttendedRun) -> RunOutcome:
    """The status, error, log lines and artifacts folder of `run`, from the agent's outbox."""
    status = ("paused" if run.paused else "running") if run.running else "reported"
    error: str | None = None
    logs: list[str] = []
    for event in runtime.outbox.events(run.execution_id):
        line = _journal_line(event.type, event.path, event.data)
        if line is not None:
            logs.append(line)
        if event.type == "execution.finished":
            status = str(event.data.get("status", status))
            problem = event.data.get("error")
            if isinstance(problem, dict):
                error = str(problem.get("message", "")) or str(problem.get("kind", "")) or None
    folder = runtime.config.home / "artifacts" / run.execution_id
    return RunOutcome(
        run.execution_id,
        run.flow.name,
        status,
        error,
        tuple(logs[-MAX_LOG_LINES:]),
        folder if folder.is_dir() else None,
    )


def _journal_line(kind: str, path: str, data: dict[str, Any]) -> str | None:
    """One line of the run's log from a journal event (the agent journals steps, not log calls)."""
    if kind == "log":
        return f"{str(data.get('level', 'info')).upper():7} {path}: {data.get('message', '')}"
    if kind == "node.succeeded":
        return f"OK      {path}"
    if kind == "node.skipped":
        return f"SKIPPED {path} ({data.get('reason', '')})"
    if kind == "node.failed":
        error = data.get("error")
        message = error.get("message", "") if isinstance(error, dict) else ""
        return f"FAILED  {path}: {message}"
    return None


class RunDetails(QDialog):
    """A run's status, error and log lines, with a button opening its artifacts folder."""

    def __init__(self, outcome: RunOutcome, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("run-details")
        self.setWindowTitle(f"Run of {outcome.flow}")
        self.outcome = outcome
        layout = QVBoxLayout(self)
        facts = QFormLayout()
        self.status = QLabel(outcome.status)
        self.status.setObjectName("status")
        facts.addRow("Flow", QLabel(outcome.flow))
        facts.addRow("Status", self.status)
        facts.addRow("Run id", QLabel(outcome.execution_id))
        self.error = QLabel(outcome.error or "—")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        if outcome.error:
            self.error.setStyleSheet("color: #d13a2f")
        facts.addRow("Error", self.error)
        layout.addLayout(facts)
        self.logs = QPlainTextEdit("\n".join(outcome.logs) or "(no log lines)")
        self.logs.setObjectName("logs")
        self.logs.setReadOnly(True)
        self.logs.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.logs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_artifacts = buttons.addButton("Open artifacts folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_artifacts.setEnabled(outcome.artifacts is not None)
        self.open_artifacts.clicked.connect(self.show_artifacts)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 360)

    def show_artifacts(self) -> bool:
        """Open the run's artifacts folder in the desktop's file manager."""
        if self.outcome.artifacts is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.outcome.artifacts)))


@dataclass
class RunNotifier:
    """Says each start and end of an attended run once, through `show(notice)`.

    Args:
        controller: the attended controls (its listeners hear of every change).
        show: shows a notice (the tray's balloon or the window's status line).
        enabled: read on each change (the settings may turn notifications off meanwhile).
    """

    controller: AttendedController
    show: Callable[[Notice], None]
    enabled: Callable[[], bool] = lambda: True
    _started: set[str] = field(default_factory=set)
    _ended: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.controller.subscribe(lambda _c: self.check())

    def check(self) -> list[Notice]:
        """The notices due now (shown unless notifications are off)."""
        notices = []
        for run in reversed(self.controller.last):
            if run.execution_id not in self._started:
                self._started.add(run.execution_id)
                if run.running:
                    notices.append(Notice(run.execution_id, "Run started", f"{run.flow.name} is running"))
            if not run.running and run.execution_id not in self._ended:
                self._ended.add(run.execution_id)
                notices.append(self._ended_notice(run))
        if self.enabled():
            for notice in notices:
                self.show(notice)
        return notices

    def _ended_notice(self, run: AttendedRun) -> Notice:
        outcome = run_outcome(run.runtime, run)
        if outcome.status == "succeeded":
            return Notice(run.execution_id, "Run finished", f"{run.flow.name} finished")
        if outcome.status == "cancelled":
            return Notice(run.execution_id, "Run stopped", f"{run.flow.name} was stopped")
        reason = f": {outcome.error}" if outcome.error else ""
        return Notice(run.execution_id, "Run failed", f"{run.flow.name} {outcome.status}{reason}", warning=True)
