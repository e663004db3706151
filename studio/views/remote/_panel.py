"""The "Workflows" dock: the signed-in organisation's workflows, searched and filtered by tag and
category, with their latest version and last change. A double-click opens the draft; the
context menu opens any published version, read-only.

Lists are fetched in a worker thread (the window keeps painting); a newer request wins over an
older one still in flight.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from shared.client import ApiError, TagCount, WorkflowSummary
from studio.views.remote._tasks import spawn

if TYPE_CHECKING:
    from studio.views.remote._controller import RemoteController

ID_ROLE = Qt.ItemDataRole.UserRole
ANY = "(any)"


class WorkflowsPanel(QWidget):
    """Search box, tag and category filters, and the list (name, version, updated)."""

    open_requested = Signal(str)
    """A workflow id whose draft the user wants open."""
    version_requested = Signal(str, int)
    """A workflow id and a version number to open read-only."""

    def __init__(self, remote: RemoteController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workflowsPanel")
        self.remote = remote
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search name or description")
        self.search.setClearButtonEnabled(True)
        self.tag = QComboBox()
        self.tag.setObjectName("tag")
        self.category = QComboBox()
        self.category.setObjectName("category")
        for box in (self.tag, self.category):
            box.addItem(ANY, None)
            box.currentIndexChanged.connect(self.refresh_soon)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Version", "Updated"])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 180)
        self.tree.setColumnWidth(1, 60)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.open_requested.emit(item.data(0, ID_ROLE)))
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.status = QLabel("")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(lambda: spawn(self.refresh()))
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Tag"))
        filters.addWidget(self.tag, 1)
        filters.addWidget(QLabel("Category"))
        filters.addWidget(self.category, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addLayout(filters)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        self.items: list[WorkflowSummary] = []
        self._generation = 0
        self._filling = False

    def refresh_soon(self) -> None:
        """Fetch again shortly (a filter changed)."""
        if not self._filling:
            self._debounce.start()

    async def refresh(self) -> list[WorkflowSummary]:
        """Fetch the filters and the list for what the search box and filters say now."""
        self._generation += 1
        generation = self._generation
        client = self.remote.client_or_none()
        if client is None:
            self._show([], "Not signed in: Orchestrator ▸ Sign in…")
            return []
        query = {"q": self.search.text().strip() or None, "category": self.category.currentData(), "sort": "name"}
        tag = self.tag.currentData()
        try:
            page, tags, categories = await asyncio.to_thread(self._fetch, client, query, tag)
        except ApiError as exc:
            if generation == self._generation:
                self._show([], exc.message)
            return []
        if generation != self._generation:
            return self.items  # a newer request is on its way
        self._fill_filter(self.tag, tags)
        self._fill_filter(self.category, categories)
        more = f" (first {len(page.items)} of {page.total})" if page.total > len(page.items) else ""
        self._show(page.items, f"{page.total} workflow(s){more}")
        return self.items

    @staticmethod
    def _fetch(client: Any, query: dict[str, Any], tag: str | None) -> tuple[Any, list[TagCount], list[TagCount]]:
        page = client.workflows.list(tags=[tag] if tag else [], limit=500, **query)
        return page, client.workflows.tags(), client.workflows.categories()

    def _fill_filter(self, box: QComboBox, counts: list[TagCount]) -> None:
        current = box.currentData()
        self._filling = True
        try:
            box.clear()
            box.addItem(ANY, None)
            for count in counts:
                box.addItem(f"{count.name} ({count.count})", count.name)
            index = box.findData(current)
            box.setCurrentIndex(max(index, 0))
        finally:
            self._filling = False

    def _show(self, items: list[WorkflowSummary], status: str) -> None:
        self.items = items
        self.tree.clear()
        for workflow in items:
            version = f"v{workflow.latest_version}" if workflow.latest_version else "draft"
            updated = workflow.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
            row = QTreeWidgetItem([workflow.name, version, updated])
            row.setData(0, ID_ROLE, workflow.id)
            row.setToolTip(0, workflow.description or workflow.name)
            self.tree.addTopLevelItem(row)
        self.status.setText(status)

    def names(self) -> list[str]:
        """The names listed, in order."""
        rows = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [row.text(0) for row in rows if row is not None]

    def _context_menu(self, point: QPoint) -> None:
        item = self.tree.itemAt(point)
        if item is None:
            return
        workflow_id = item.data(0, ID_ROLE)
        summary = next((w for w in self.items if w.id == workflow_id), None)
        menu = QMenu(self)
        menu.addAction("Open draft", lambda: self.open_requested.emit(workflow_id))
        opened = menu.addAction("Open version…", lambda: self._ask_version(workflow_id))
        opened.setEnabled(bool(summary and summary.latest_version))
        menu.popup(self.tree.viewport().mapToGlobal(point))

    def _ask_version(self, workflow_id: str) -> None:
        summary = next((w for w in self.items if w.id == workflow_id), None)
        if summary is None or not summary.latest_version:
            return
        number, ok = QInputDialog.getInt(
            self,
            "Open version",
            f"Version of “{summary.name}” (read-only)",
            summary.latest_version,
            1,
            summary.latest_version,
        )
        if ok:
            self.version_requested.emit(workflow_id, number)


def workflows_dock(document: object, window: Any) -> WorkflowsPanel:
    """The dock's factory (`studio/app/_docks.py`): a panel on the window's orchestrator controller."""
    panel = WorkflowsPanel(window.remote)
    panel.open_requested.connect(lambda workflow_id: spawn(window.remote.open_workflow(workflow_id)))
    panel.version_requested.connect(lambda workflow_id, number: spawn(window.remote.open_version(workflow_id, number)))
    window.remote.panel = panel
    if window.remote.client_or_none() is not None:
        QTimer.singleShot(0, lambda: spawn(panel.refresh()))
    else:
        panel.status.setText("Not signed in: Orchestrator ▸ Sign in…")
    return panel
