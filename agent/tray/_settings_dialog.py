"""The tray's Settings dialog: orchestrator URL, notifications, start at login, the pause and stop
hotkeys (checked with the hotkey parser, a conflict said before saving) and the user id."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from agent.tray._settings import TraySettings, check_hotkeys


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `chosen()` is the result once accepted.

    Args:
        settings: the settings now.
        flow_hotkeys: the cached flows' hotkeys (flow name -> combination), for conflicts.
    """

    def __init__(self, settings: TraySettings, flow_hotkeys: Mapping[str, str] | None = None) -> None:
        super().__init__(None, Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("tray-settings")
        self.setWindowTitle("RPA agent settings")
        self.original = settings
        self.flow_hotkeys = dict(flow_hotkeys or {})
        self.url = self._line("url", settings.url or "", "the one enrolled with")
        self.user_id = self._line("user-id", settings.user_id or "", "the user runs are reported for")
        self.pause = self._line("pause-hotkey", settings.pause_hotkey, "")
        self.stop = self._line("stop-hotkey", settings.stop_hotkey, "")
        self.notifications = QCheckBox("Notify when a run starts, finishes or fails")
        self.notifications.setObjectName("notifications")
        self.notifications.setChecked(settings.notifications)
        self.start_at_login = QCheckBox("Start the tray when I log in")
        self.start_at_login.setObjectName("start-at-login")
        self.start_at_login.setChecked(settings.start_at_login)
        form = QFormLayout()
        form.addRow("Orchestrator URL", self.url)
        form.addRow("User id", self.user_id)
        form.addRow("Pause / resume hotkey", self.pause)
        form.addRow("Stop hotkey", self.stop)
        form.addRow("", self.notifications)
        form.addRow("", self.start_at_login)
        self.problem = QLabel("")
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #d13a2f")
        self.problem.setWordWrap(True)
        note = QLabel("A new orchestrator URL applies at the next start; everything else at once.")
        note.setStyleSheet("color: #666")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _line(self, name: str, text: str, placeholder: str) -> QLineEdit:
        line = QLineEdit(text)
        line.setObjectName(name)
        line.setPlaceholderText(placeholder)
        line.setMinimumWidth(260)
        return line

    def problems(self) -> list[str]:
        """What prevents saving, in words (an invalid or conflicting hotkey, a URL that is not http(s))."""
        found = [
            f"{purpose} hotkey: {problem}"
            for purpose, problem in check_hotkeys(self.pause.text(), self.stop.text(), self.flow_hotkeys).items()
        ]
        url = self.url.text().strip()
        if url and not url.startswith(("http://", "https://")):
            found.insert(0, f"orchestrator URL: {url!r} is not an http:// or https:// address")
        return found

    def chosen(self) -> TraySettings:
        """The settings as edited (favourites and anything not shown here kept)."""
        return self.original.model_copy(
            update={
                "url": self.url.text().strip() or None,
                "user_id": self.user_id.text().strip() or None,
                "pause_hotkey": self.pause.text().strip(),
                "stop_hotkey": self.stop.text().strip(),
                "notifications": self.notifications.isChecked(),
                "start_at_login": self.start_at_login.isChecked(),
            }
        )

    def _accept(self) -> None:
        problems = self.problems()
        if problems:
            self.problem.setText("\n".join(problems))
            return
        self.accept()
