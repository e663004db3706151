"""The side panel of a diff: every change listed, and a node's changed fields side by side."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QSplitter, QTableWidget, QTableWidgetItem, QTreeWidget, QTreeWidgetItem, QWidget

from studio.model import FlowDiff, NodeChange
from studio.views.canvas._style import RUN_COLOURS

__all__ = ["ChangesPanel", "show_value"]

_NODE_ROLE = Qt.ItemDataRole.UserRole
_GROUPS = (("added", "Added"), ("removed", "Removed"), ("changed", "Changed"), ("moved", "Moved only"))


def show_value(value: Any) -> str:
    """A value as the table shows it: text as is, anything else as compact JSON, absent as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _where(change: NodeChange) -> str:
    return f"{change.id} (in {' / '.join(change.path)})" if change.path else change.id


class ChangesPanel(QSplitter):
    """The list of changes (click a node's to find it on the canvas) over the fields table."""

    node_chosen = Signal(str)
    """A node's change was clicked: the canvas shows that node."""

    def __init__(
        self,
        diff: FlowDiff,
        titles: tuple[str, str],
        assets: dict[str, list[str]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.diff = diff
        self.assets = {k: v for k, v in (assets or {}).items() if v}
        """The flow's files added, removed and changed (the server's diff knows them; a document does not)."""
        self.titles = titles
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setObjectName("diff-changes")
        self.heading = QLabel()
        self.fields = QTableWidget(0, 3)
        self.fields.setObjectName("diff-fields")
        self.fields.setHorizontalHeaderLabels(["Field", titles[0], titles[1]])
        self.fields.horizontalHeader().setStretchLastSection(True)
        self.fields.verticalHeader().setVisible(False)
        self.fields.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.addWidget(self.tree)
        self.addWidget(self.heading)
        self.addWidget(self.fields)
        self._fill()
        self.tree.itemClicked.connect(self._clicked)

    def _fill(self) -> None:
        diff = self.diff
        if diff.identical and not self.assets:
            QTreeWidgetItem(self.tree, ["No differences"])
            return
        for status, title in _GROUPS:
            ids = diff.ids(status)  # type: ignore[arg-type]
            if not ids:
                continue
            group = QTreeWidgetItem(self.tree, [f"{title} ({len(ids)})"])
            group.setForeground(0, QBrush(QColor(RUN_COLOURS[status])))
            for node_id in ids:
                change = diff.nodes[node_id]
                detail = ", ".join(f.path for f in change.fields if f.kind != "layout") if status == "changed" else ""
                item = QTreeWidgetItem(group, [_where(change) + (f": {detail}" if detail else "")])
                item.setData(0, _NODE_ROLE, node_id)
            group.setExpanded(True)
        self._fill_edges()
        self._fill_entries()
        if self.assets:
            group = QTreeWidgetItem(self.tree, ["Files"])
            for how, paths in self.assets.items():
                for path in paths:
                    QTreeWidgetItem(group, [f"{path} ({how})"])
            group.setExpanded(True)

    def _fill_edges(self) -> None:
        for edges, title in ((self.diff.edges_added, "Edges added"), (self.diff.edges_removed, "Edges removed")):
            if edges:
                group = QTreeWidgetItem(self.tree, [f"{title} ({len(edges)})"])
                for e in edges:
                    port = "" if e.port == "out" else f" [{e.port}]"
                    QTreeWidgetItem(group, [f"{e.source}{port} → {e.target}"])
                group.setExpanded(True)

    def _fill_entries(self) -> None:
        diff = self.diff
        for part, name in ((diff.inputs, "Inputs"), (diff.outputs, "Outputs"), (diff.variables, "Variables")):
            if part:
                group = QTreeWidgetItem(self.tree, [name])
                for how, names in (("added", part.added), ("removed", part.removed), ("changed", part.changed)):
                    for entry in names:
                        QTreeWidgetItem(group, [f"{entry} ({how})"])
                group.setExpanded(True)
        changed = {**{f"flow {k}": v for k, v in diff.document.items()}, **diff.settings}
        if changed:
            group = QTreeWidgetItem(self.tree, ["Flow settings"])
            for key, (old, new) in changed.items():
                QTreeWidgetItem(group, [f"{key}: {show_value(old) or '—'} → {show_value(new) or '—'}"])
            group.setExpanded(True)

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        node_id = item.data(0, _NODE_ROLE)
        if isinstance(node_id, str):
            self.show_node(node_id)
            self.node_chosen.emit(node_id)

    def show_node(self, node_id: str | None) -> None:
        """Fill the table with the node's fields: changed ones for a changed node, all its params
        for an added or removed one (on one side), nothing for an unchanged node."""
        change = self.diff.nodes.get(node_id or "")
        self.fields.setRowCount(0)
        if change is None:
            self.heading.setText(f"{node_id}: unchanged" if node_id else "")
            return
        self.heading.setText(f"{_where(change)} — {change.status}")
        rows: list[tuple[str, Any, Any]]
        if change.status in ("changed", "moved"):
            rows = [(f.path, f.before, f.after) for f in change.fields]
        else:
            params = change.node.get("params")
            values = [("type", change.node.get("type"))]
            values += [(f"params.{k}", v) for k, v in (params.items() if isinstance(params, dict) else ())]
            rows = [(path, v, None) if change.status == "removed" else (path, None, v) for path, v in values]
        for path, old, new in rows:
            row = self.fields.rowCount()
            self.fields.insertRow(row)
            for column, text in enumerate((path, show_value(old), show_value(new))):
                self.fields.setItem(row, column, QTableWidgetItem(text))
        self.fields.resizeColumnsToContents()

    def rows(self) -> list[tuple[str, str, str]]:
        """The fields table as text (what the designer reads)."""
        out = []
        for row in range(self.fields.rowCount()):
            cells = [self.fields.item(row, c) for c in range(3)]
            out.append(tuple(c.text() if c is not None else "" for c in cells))
        return out  # type: ignore[return-value]
