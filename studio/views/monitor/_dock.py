"""The monitor as a dock panel of the main window (`studio/app/_docks.py` names `monitor_dock`).

The dock needs a signed-in orchestrator. It takes the window's own when the window has one
(`window.monitor_source`, or an `ApiClient` as `window.api_client`); otherwise it offers to use
the session `rpa login` kept, and `set_source` connects it later (after a sign-in).
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from shared.client import ApiClient, ApiError
from shared.steps import StepRegistry
from studio.model import FlowDocument
from studio.views.monitor._api import ApiSource
from studio.views.monitor._list import MonitorWidget
from studio.views.monitor.model import MonitorSource


def source_of(window: object) -> MonitorSource | None:
    """The orchestrator the window is signed in to, as a `MonitorSource`; None when there is none."""
    source = getattr(window, "monitor_source", None)
    if source is not None:
        return source  # type: ignore[no-any-return]
    client = getattr(window, "api_client", None)
    return ApiSource(client) if isinstance(client, ApiClient) else None


class MonitorDock(QWidget):
    """The executions monitor, or a prompt to connect while there is no orchestrator."""

    def __init__(
        self,
        source: MonitorSource | None = None,
        parent: QWidget | None = None,
        *,
        registry: StepRegistry | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("monitor-dock")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.prompt = QLabel("Not signed in to an orchestrator.")
        self.prompt.setObjectName("monitor-prompt")
        self.connect_button = QPushButton("Use the saved sign-in (rpa login)")
        self.connect_button.setObjectName("monitor-connect")
        self.connect_button.clicked.connect(self.connect_saved)
        layout.addWidget(self.prompt)
        layout.addWidget(self.connect_button)
        self.monitor = MonitorWidget(parent=self, registry=registry)
        layout.addWidget(self.monitor, 1)
        self.monitor.setVisible(False)
        if source is not None:
            self.set_source(source)

    def set_source(self, source: MonitorSource) -> None:
        """Show the executions of `source`."""
        self.prompt.setVisible(False)
        self.connect_button.setVisible(False)
        self.monitor.setVisible(True)
        self.monitor.set_source(source)

    def connect_saved(self) -> None:
        """Connect with the session `rpa login` saved (or `RPA_URL` + `RPA_TOKEN`)."""
        try:
            client = ApiClient.from_session()
        except ApiError as error:
            self.prompt.setText(f"No saved sign-in: {error}")
            return
        self.set_source(ApiSource(client))

    def closeEvent(self, event: Any) -> None:
        self.monitor.shutdown()
        super().closeEvent(event)


def monitor_dock(document: object, window: object) -> QWidget:
    """The dock factory of `studio/app/_docks.py`: the executions monitor of the window's orchestrator.

    A window with an Orchestrator menu (`window.remote`) answers an execution view's Diagnose
    (`remote.diagnose`); it makes the dock again after a sign-in or a switch of organisation.
    """
    registry = document.registry if isinstance(document, FlowDocument) else None
    dock = MonitorDock(source_of(window), parent=window if isinstance(window, QWidget) else None, registry=registry)
    remote = getattr(window, "remote", None)
    diagnose = getattr(remote, "diagnose", None)
    if callable(diagnose):
        dock.monitor.opened.connect(
            lambda view: view.diagnose_requested.connect(
                lambda execution_id, workflow_id: _spawn(diagnose(execution_id, workflow_id))
            )
        )
    return dock


def _spawn(coroutine: Any) -> None:
    """Run the window's coroutine on its loop (qasync's), keeping a reference until it ends."""
    task = asyncio.ensure_future(coroutine)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


_TASKS: set[asyncio.Future[Any]] = set()
