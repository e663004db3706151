"""The step palette: every step of the catalogue (plugins included), grouped by family, searchable.

Drag an entry onto the canvas to add the step where it is dropped; double-click (or Enter)
inserts it after the selected node, wired from it. Control-flow kinds (`control.*`, `flow.call`)
are steps of the catalogue like any other, so they come from the same registry.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QLineEdit,
    QMainWindow,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.model import CommandError, FlowDocument
from studio.model._layout import GAP_Y, NODE_HEIGHT, position
from studio.views.canvas import STEP_MIME
from studio.views.canvas._style import family_colour

STEP_ROLE = Qt.ItemDataRole.UserRole + 1
"""Item data role holding an entry's step type (None on a family row)."""


class _StepTree(QTreeWidget):
    """A tree whose dragged entries carry their step type as `STEP_MIME`."""

    def mimeTypes(self) -> list[str]:
        return [STEP_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        data = QMimeData()
        steps = [item.data(0, STEP_ROLE) for item in items if item.data(0, STEP_ROLE)]
        if steps:
            data.setData(STEP_MIME, str(steps[0]).encode("utf-8"))
            data.setText(str(steps[0]))
        return data


class Palette(QWidget):
    """The catalogue of `document`'s registry as a tree, with a filter field."""

    inserted = Signal(str)
    """A node id the palette inserted (double-click)."""
    message = Signal(str)

    def __init__(self, document: FlowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search steps (name or summary)")
        self.search.setClearButtonEnabled(True)
        self.tree = _StepTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._families: dict[str, QTreeWidgetItem] = {}
        self._entries: dict[str, list[QTreeWidgetItem]] = {}
        self._fill()
        self.search.textChanged.connect(self.filter)
        self.tree.itemActivated.connect(self._activated)

    def _fill(self) -> None:
        for definition in sorted(self.document.registry, key=lambda d: d.name):
            family, _, short = definition.name.partition(".")
            group = self._families.get(family)
            if group is None:
                group = self._families[family] = QTreeWidgetItem(self.tree, [family])
                group.setForeground(0, family_colour(definition.name))
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            entry = QTreeWidgetItem(group, [f"{short or definition.name} — {definition.summary}"])
            entry.setData(0, STEP_ROLE, definition.name)
            self._entries.setdefault(family, []).append(entry)
            entry.setToolTip(0, f"{definition.name}\n{definition.summary}")
            entry.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)

    def steps(self) -> list[str]:
        """The step types listed and not filtered out."""
        return [str(e.data(0, STEP_ROLE)) for entries in self._entries.values() for e in entries if not e.isHidden()]

    def entry(self, step_type: str) -> QTreeWidgetItem | None:
        """The tree row of a step type."""
        entries = self._entries.get(step_type.partition(".")[0], [])
        return next((e for e in entries if e.data(0, STEP_ROLE) == step_type), None)

    def filter(self, text: str) -> None:
        """Show the steps whose name or summary holds every word of `text` (case-insensitive)."""
        words = text.lower().split()
        for family, group in self._families.items():
            shown = 0
            for entry in self._entries.get(family, []):
                haystack = f"{entry.data(0, STEP_ROLE)} {entry.toolTip(0)}".lower()
                hidden = not all(word in haystack for word in words)
                entry.setHidden(hidden)
                shown += not hidden
            group.setHidden(shown == 0)
            group.setExpanded(bool(words) and shown > 0)

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        step_type = item.data(0, STEP_ROLE)
        if step_type:
            self.insert_after_selection(str(step_type))

    def insert_after_selection(self, step_type: str) -> str | None:
        """Add a step under the selected node (same graph), wired from its `out` port; with
        nothing selected, under the lowest node of the top graph."""
        document = self.document
        selected = [ref for ref in document.index.refs if ref.id in document.selection.ids]
        anchor = selected[-1] if selected else None
        graph = anchor.graph_label if anchor else None
        if anchor is not None:
            x, y = position(anchor.node)
        else:
            top = [position(ref.node) for ref in document.index.refs if ref.container is None]
            x, y = top[-1] if top else (0.0, -NODE_HEIGHT - GAP_Y)
        try:
            node_id = str(document.execute("add_node", type=step_type, graph=graph, x=x, y=y + NODE_HEIGHT + GAP_Y))
            if anchor is not None and anchor.id is not None:
                document.execute("connect", source=anchor.id, target=node_id, port=_first_port(document, anchor.node))
        except CommandError as err:
            self.message.emit(str(err))
            return None
        document.selection.select([node_id])
        self.inserted.emit(node_id)
        return node_id


def _first_port(document: FlowDocument, node: dict[str, object]) -> str:
    step_type = node.get("type")
    if isinstance(step_type, str) and step_type in document.registry:
        params = node.get("params")
        ports = document.registry.get(step_type).ports_for(params if isinstance(params, dict) else {})
        if ports:
            return ports[0]
    return "out"


def palette_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """Dock factory (`studio/app/_docks.py`): the palette, its messages on the status bar."""
    palette = Palette(document)
    palette.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
    return palette
