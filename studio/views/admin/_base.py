"""What the admin panels share: the orchestrator calls run in a worker thread, a refusal is shown
in the panel's status line, and actions follow the caller's permissions (`/auth/me`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QWidget

from shared.client import ApiError
from studio.views.dashboard import OrchestratorApi

T = TypeVar("T")


class AdminPanel(QWidget):
    """A panel over `api` (None: not signed in); `permissions` come from `/auth/me`."""

    def __init__(self, api: OrchestratorApi | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.permissions: frozenset[str] = frozenset()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.tasks: set[asyncio.Future[Any]] = set()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """`fn(*args, **kwargs)` in a worker thread; None (and the reason shown) when refused."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ApiError as error:
            self.status.setText(error.message)
            return None

    async def load_permissions(self) -> bool:
        if self.api is None:
            self.permissions = frozenset()
            self.status.setText("Sign in to an orchestrator to manage it.")
            return False
        me = await self.call(self.api.me)
        self.permissions = frozenset(me.get("permissions", ())) if me is not None else frozenset()
        return me is not None

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def spawn(self, job: Any) -> None:
        """Run a coroutine on the window's loop (a button's slot cannot await)."""
        try:
            task = asyncio.get_running_loop().create_task(job)
        except RuntimeError:  # no asyncio loop runs
            job.close()
            return
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def when(value: str | None) -> str:
    """An API timestamp as `YYYY-MM-DD HH:MM` (UTC), or empty."""
    return value[:16].replace("T", " ") if value else ""


def fill_table(table: QTableWidget, rows: Sequence[Sequence[Any]], ids: Sequence[str]) -> None:
    """Replace the table's rows; each row's first cell keeps its object's id (UserRole)."""
    from PySide6.QtCore import Qt

    table.setRowCount(len(rows))
    for index, (row, object_id) in enumerate(zip(rows, ids, strict=True)):
        for column, value in enumerate(row):
            item = QTableWidgetItem("" if value is None else str(value))
            if column == 0:
                item.setData(Qt.ItemDataRole.UserRole, object_id)
            table.setItem(index, column, item)


def selected_id(table: QTableWidget) -> str | None:
    """The id of the selected row's object, if a row is selected."""
    from PySide6.QtCore import Qt

    row = table.currentRow()
    item = table.item(row, 0) if row >= 0 else None
    return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None


def new_table(columns: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    from PySide6.QtWidgets import QHeaderView

    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table
