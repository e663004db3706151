"""Credentials, agents and enrolment tokens of the signed-in organisation: read by anyone who may,
changed where the caller's role allows (the rest is disabled)."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from studio.views.admin._agents import AgentDialog, AgentsPanel, TokenDialog, labels_of
from studio.views.admin._base import AdminPanel
from studio.views.admin._credentials import KINDS, CredentialDialog, CredentialsPanel
from studio.views.dashboard import OrchestratorApi, api_of

__all__ = [
    "KINDS",
    "AdminPanel",
    "AdminView",
    "AgentDialog",
    "AgentsPanel",
    "CredentialDialog",
    "CredentialsPanel",
    "TokenDialog",
    "admin_dock",
    "labels_of",
]


class AdminView(QTabWidget):
    """The two admin panels as tabs."""

    def __init__(self, api: OrchestratorApi | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.credentials = CredentialsPanel(api)
        self.agents = AgentsPanel(api)
        self.addTab(self.credentials, "Credentials")
        self.addTab(self.agents, "Agents")

    def set_api(self, api: OrchestratorApi | None) -> None:
        for panel in (self.credentials, self.agents):
            panel.api = api
            panel.spawn(panel.refresh())


def admin_dock(document: object, window: object) -> AdminView:
    """The "Credentials and agents" dock of the main window."""
    del document
    view = AdminView(api_of(window))
    if view.credentials.api is not None:
        view.set_api(view.credentials.api)
    return view
