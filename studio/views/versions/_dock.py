"""The Versions dock: a workflow's published versions (number, note, who, when) and its draft;
compare any two (or one and the draft) on a diff canvas; roll back to one.

The dock follows one document; it learns which orchestrator workflow that document is with
`attach(server, workflow_id)` (a file that never came from an orchestrator has no versions).
Every call to the server runs in a thread (`asyncio.to_thread`): the window never waits on it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from shared.client import ApiError
from studio.model import FlowDocument
from studio.views.versions._diffview import DiffView
from studio.views.versions._remote import WorkflowServer

__all__ = ["DRAFT", "VersionsPanel", "versions_dock"]

DRAFT = "draft"
"""The row of the workflow's draft (what the studio edits), compared like a version."""

_REF_ROLE = Qt.ItemDataRole.UserRole


def _when(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value or "")


class VersionsPanel(QWidget):
    """The versions of the workflow the document is, with Compare and Roll back."""

    def __init__(self, document: FlowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("versions-panel")
        self.document = document
        self.server: WorkflowServer | None = None
        self.workflow_id: str | None = None
        self.versions: list[dict[str, Any]] = []
        self.diff_window: QDialog | None = None
        self.loading: asyncio.Future[bool] | None = None
        """The first listing, when the window attached the panel as it was made."""
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Version", "Note", "By", "When"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.status = QLabel("Open a workflow from an orchestrator to see its versions.")
        self.status.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Select two rows, or one version to compare with the draft")
        self.rollback_button = QPushButton("Roll back to this version")
        buttons = QHBoxLayout()
        for button in (self.refresh_button, self.compare_button, self.rollback_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.refresh_button.clicked.connect(lambda: asyncio.ensure_future(self.refresh()))
        self.compare_button.clicked.connect(lambda: asyncio.ensure_future(self.compare()))
        self.rollback_button.clicked.connect(lambda: asyncio.ensure_future(self.roll_back()))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    # -- state ------------------------------------------------------------------------------

    def attach(self, server: WorkflowServer, workflow_id: str) -> None:
        """Follow workflow `workflow_id` on `server` (call `refresh()` to list its versions)."""
        self.server, self.workflow_id = server, workflow_id

    def selected_refs(self) -> list[int | str]:
        """The selected rows as version numbers (and `DRAFT`), oldest first."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        refs = [self._ref(row) for row in rows]
        return sorted((r for r in refs if r is not None), key=lambda r: float("inf") if r == DRAFT else int(r))

    def _ref(self, row: int) -> int | str | None:
        item = self.table.item(row, 0)
        return item.data(_REF_ROLE) if item is not None else None

    def select(self, *refs: int | str) -> None:
        """Select the rows of these versions (or `DRAFT`)."""
        self.table.clearSelection()
        for row in range(self.table.rowCount()):
            if self._ref(row) in refs:
                self.table.selectRow(row)

    def _update_buttons(self) -> None:
        refs = self.selected_refs()
        ready = self.server is not None
        self.compare_button.setEnabled(ready and (len(refs) == 2 or (len(refs) == 1 and refs[0] != DRAFT)))
        self.rollback_button.setEnabled(ready and len(refs) == 1 and refs[0] != DRAFT)

    def _problem(self, error: ApiError) -> None:
        self.status.setText(error.message)

    # -- server calls -----------------------------------------------------------------------

    async def refresh(self) -> bool:
        """List the versions again; False (and the reason shown) when the server refused."""
        if self.server is None or self.workflow_id is None:
            return False
        server, workflow_id = self.server, self.workflow_id
        try:
            versions = await asyncio.to_thread(server.list_versions, workflow_id)
            people = dict.fromkeys(v["created_by"] for v in versions)  # a few publishers, many versions
            names = {user: await asyncio.to_thread(server.user_name, user) for user in people}
        except ApiError as error:
            self._problem(error)
            return False
        self.versions = versions
        self.table.setRowCount(0)
        self._add_row(DRAFT, "Draft", "(being edited)", "", "")
        for version in versions:
            source = version.get("source_version")
            note = version.get("note") or ""
            if source and not note:
                note = f"Rollback to version {source}"
            self._add_row(
                int(version["number"]),
                str(version["number"]),
                note,
                names.get(version["created_by"], ""),
                _when(version.get("created_at")),
            )
        self.table.resizeColumnsToContents()
        self.status.setText(f"{len(versions)} published version{'s' if len(versions) != 1 else ''}")
        self._update_buttons()
        return True

    def _add_row(self, ref: int | str, *cells: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column == 0:
                item.setData(_REF_ROLE, ref)
            self.table.setItem(row, column, item)

    async def _document_at(self, server: WorkflowServer, workflow_id: str, ref: int | str) -> dict[str, Any]:
        if ref == DRAFT:
            return self.document.raw  # what the designer sees, saved or not
        version = await asyncio.to_thread(server.get_version, workflow_id, int(ref))
        return dict(version["document"])

    async def compare(self) -> DiffView | None:
        """Open the diff of the two selected rows (or the selected version and the draft)."""
        refs = self.selected_refs()
        server, workflow_id = self.server, self.workflow_id
        if server is None or workflow_id is None or not refs or (len(refs) == 1 and refs[0] == DRAFT):
            return None
        before_ref, after_ref = (refs[0], refs[1]) if len(refs) == 2 else (refs[0], DRAFT)
        try:
            before = await self._document_at(server, workflow_id, before_ref)
            after = await self._document_at(server, workflow_id, after_ref)
            # The files are the server's business (the draft's as saved there).
            server_diff = await asyncio.to_thread(server.diff_versions, workflow_id, before_ref, after_ref)
        except ApiError as error:
            self._problem(error)
            return None
        titles = (self._title(before_ref), self._title(after_ref))
        view = DiffView(before, after, titles=titles, registry=self.document.registry, assets=server_diff.get("assets"))
        self._show(view, f"{titles[0]} → {titles[1]}")
        return view

    @staticmethod
    def _title(ref: int | str) -> str:
        return "Draft" if ref == DRAFT else f"Version {ref}"

    def _show(self, view: DiffView, title: str) -> None:
        if self.diff_window is not None:
            self.diff_window.close()
        window = QDialog(self.window())
        window.setWindowTitle(f"Diff: {title}")
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(window)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)
        window.resize(1100, 700)
        window.show()
        view.fit()
        self.diff_window = window
        window.destroyed.connect(lambda *_: setattr(self, "diff_window", None))

    def confirm_rollback(self, number: int) -> bool:
        """Ask before rolling back (a new version is published and the draft replaced)."""
        answer = QMessageBox.question(
            self,
            "Roll back",
            f"Publish a copy of version {number} as a new version and make it the draft?\n"
            "Unpublished changes in the draft are replaced (undo brings them back here).",
        )
        return answer == QMessageBox.StandardButton.Yes

    async def roll_back(self) -> bool:
        """Roll back to the selected version: confirm, ask the server, reload the draft."""
        refs = self.selected_refs()
        if self.server is None or self.workflow_id is None or len(refs) != 1 or refs[0] == DRAFT:
            return False
        number = int(refs[0])
        if not self.confirm_rollback(number):
            return False
        try:
            created = await asyncio.to_thread(self.server.rollback, self.workflow_id, number)
            workflow = await asyncio.to_thread(self.server.get_workflow, self.workflow_id)
        except ApiError as error:
            self._problem(error)
            return False
        self.document.execute("replace_flow", document=workflow["draft"], whole=True)
        await self.refresh()
        self.status.setText(f"Rolled back: version {created['number']} is a copy of version {number}")
        return True


def versions_dock(document: FlowDocument, window: object) -> VersionsPanel:
    """Dock factory (`studio/app/_docks.py`): the Versions panel of the window's document.

    A window that knows which orchestrator workflow a document is offers
    `remote_workflow(document) -> (WorkflowServer, workflow_id) | None`; the panel attaches to it
    and lists the versions. Otherwise it waits for `attach()`.
    """
    panel = VersionsPanel(document)
    source = getattr(window, "remote_workflow", None)
    found = source(document) if callable(source) else None
    if found is not None:
        panel.attach(*found)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return panel  # no loop yet (the window is being built): the first Refresh lists them
        panel.loading = asyncio.ensure_future(panel.refresh())
    return panel
