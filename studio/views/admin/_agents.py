"""Agents (status, capabilities, labels; rename and relabel with `agents:manage`) and enrolment
tokens (create: the token is shown once, with a copy button; list; revoke)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.views.admin._base import AdminPanel, fill_table, new_table, selected_id, when
from studio.views.dashboard import OrchestratorApi

MANAGE = "agents:manage"
AGENT_COLUMNS = ("Name", "Status", "Capabilities", "Labels", "Version", "Last seen")
TOKEN_COLUMNS = ("Description", "Labels", "State", "Expires")


def labels_of(text: str) -> list[str]:
    """Labels typed as `a, b c` (commas or spaces)."""
    return [label for label in text.replace(",", " ").split() if label]


class AgentDialog(QDialog):
    """Rename an agent or change its labels."""

    def __init__(self, agent: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.agent = agent
        self.setWindowTitle(f"Agent {agent['name']}")
        self.name = QLineEdit(str(agent["name"]))
        self.labels = QLineEdit(", ".join(agent.get("labels") or []))
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Labels", self.labels)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class TokenDialog(QDialog):
    """A new enrolment token: labels, lifetime, description; once made, the token itself (shown
    this once) with a copy button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New enrolment token")
        self.labels = QLineEdit()
        self.labels.setPlaceholderText("e.g. finance, windows")
        self.hours = QSpinBox()
        self.hours.setRange(1, 720)
        self.hours.setValue(24)
        self.hours.setSuffix(" h")
        self.description = QLineEdit()
        self.token = QLineEdit()
        self.token.setReadOnly(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        self.notice = QLabel("Give this token to the machine that enrols. It is shown only now.")
        self.notice.setWordWrap(True)
        shown = QHBoxLayout()
        shown.addWidget(self.token, 1)
        shown.addWidget(self.copy_button)
        self.form = QFormLayout()
        self.form.addRow("Labels", self.labels)
        self.form.addRow("Valid for", self.hours)
        self.form.addRow("Description", self.description)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(shown)
        layout.addWidget(self.notice)
        layout.addWidget(self.buttons)
        self.show_token(None)

    def show_token(self, token: str | None) -> None:
        """Show the issued token (the form becomes read-only), or hide the token row."""
        shown: tuple[QWidget, ...] = (self.token, self.copy_button, self.notice)
        for widget in shown:
            widget.setVisible(token is not None)
        self.token.setText(token or "")
        form: tuple[QWidget, ...] = (self.labels, self.hours, self.description)
        for widget in form:
            widget.setEnabled(token is None)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.token.text())


class AgentsPanel(AdminPanel):
    """Agents and enrolment tokens; changes need `agents:manage`."""

    def __init__(self, api: OrchestratorApi | None, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.agents: list[dict[str, Any]] = []
        self.tokens: list[dict[str, Any]] = []
        self.agent_table = new_table(AGENT_COLUMNS)
        self.token_table = new_table(TOKEN_COLUMNS)
        self.edit_button = QPushButton("Rename / labels…")
        self.new_token_button = QPushButton("New token…")
        self.revoke_button = QPushButton("Revoke token")
        self.refresh_button = QPushButton("Refresh")
        self.edit_button.clicked.connect(lambda: self.open_agent_dialog())
        self.new_token_button.clicked.connect(lambda: self.open_token_dialog())
        self.revoke_button.clicked.connect(self._revoke_selected)
        self.refresh_button.clicked.connect(lambda: self.spawn(self.refresh()))
        self.agent_table.itemSelectionChanged.connect(self.follow_permissions)
        self.token_table.itemSelectionChanged.connect(self.follow_permissions)
        top = QHBoxLayout()
        top.addWidget(QLabel("Agents"))
        top.addStretch(1)
        top.addWidget(self.edit_button)
        top.addWidget(self.refresh_button)
        middle = QHBoxLayout()
        middle.addWidget(QLabel("Enrolment tokens"))
        middle.addStretch(1)
        middle.addWidget(self.new_token_button)
        middle.addWidget(self.revoke_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.agent_table, 2)
        layout.addLayout(middle)
        layout.addWidget(self.token_table, 1)
        layout.addWidget(self.status)
        self.follow_permissions()

    def follow_permissions(self) -> None:
        manage = self.may(MANAGE)
        self.edit_button.setEnabled(manage and selected_id(self.agent_table) is not None)
        self.new_token_button.setEnabled(manage)
        self.revoke_button.setEnabled(manage and self._selected_token_open())
        tip = "" if manage else "Your role may not manage agents"
        for button in (self.edit_button, self.new_token_button, self.revoke_button):
            button.setToolTip(tip)

    def _selected_token_open(self) -> bool:
        chosen = selected_id(self.token_table)
        return any(str(t["id"]) == chosen and t["state"] == "active" for t in self.tokens)

    async def refresh(self) -> bool:
        ok = await self.load_permissions()
        self.follow_permissions()
        api = self.api
        if not ok or api is None:
            return False
        agents = await self.call(api.list_agents)
        tokens = await self.call(api.list_enrolment_tokens) if self.may(MANAGE) else []
        if agents is None or tokens is None:
            return False
        self.agents, self.tokens = agents, tokens
        fill_table(
            self.agent_table,
            [
                [
                    a["name"],
                    a["status"],
                    ", ".join(a.get("capabilities") or []),
                    ", ".join(a.get("labels") or []),
                    a.get("version", ""),
                    when(a.get("last_seen_at")),
                ]
                for a in agents
            ],
            [str(a["id"]) for a in agents],
        )
        fill_table(
            self.token_table,
            [[t["description"], ", ".join(t["labels"]), t["state"], when(t["expires_at"])] for t in tokens],
            [str(t["id"]) for t in tokens],
        )
        self.status.setText(f"{len(agents)} agent(s), {sum(t['state'] == 'active' for t in tokens)} open token(s)")
        self.follow_permissions()
        return True

    def open_agent_dialog(self) -> AgentDialog | None:
        chosen = selected_id(self.agent_table)
        agent = next((a for a in self.agents if str(a["id"]) == chosen), None)
        if agent is None:
            return None
        dialog = AgentDialog(agent, self)
        dialog.accepted.connect(lambda: self.spawn(self.save_agent(dialog)))
        dialog.open()
        return dialog

    async def save_agent(self, dialog: AgentDialog) -> bool:
        if self.api is None:
            return False
        changed = await self.call(
            self.api.update_agent,
            str(dialog.agent["id"]),
            name=dialog.name.text().strip() or None,
            labels=labels_of(dialog.labels.text()),
        )
        return changed is not None and await self.refresh()

    def open_token_dialog(self) -> TokenDialog:
        dialog = TokenDialog(self)
        dialog.buttons.accepted.disconnect()
        dialog.buttons.accepted.connect(lambda: self.spawn(self.issue_token(dialog)))
        dialog.open()
        return dialog

    async def issue_token(self, dialog: TokenDialog) -> str | None:
        """Make the token; the dialog then shows it once (OK closes it)."""
        if dialog.token.text():  # already issued: OK closes
            dialog.accept()
            return dialog.token.text()
        if self.api is None:
            return None
        made = await self.call(
            self.api.create_enrolment_token,
            labels=labels_of(dialog.labels.text()),
            expires_in_s=dialog.hours.value() * 3600,
            description=dialog.description.text(),
        )
        if made is None:
            return None
        dialog.show_token(str(made["token"]))
        await self.refresh()
        return str(made["token"])

    def _revoke_selected(self) -> None:
        chosen = selected_id(self.token_table)
        if chosen is not None:
            self.spawn(self.revoke_token(chosen))

    async def revoke_token(self, token_id: str) -> bool:
        api = self.api
        if api is None:
            return False

        def revoked() -> bool:
            api.revoke_enrolment_token(token_id)
            return True

        return await self.call(revoked) is not None and await self.refresh()
