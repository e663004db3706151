"""The outline: the flow's nodes as a tree nested by container and body; a click selects the
node and centres the canvas on it. Rebuilt from the document on structural events only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QTreeWidget, QTreeWidgetItem, QWidget

from shared.flow import TOP_GRAPH
from studio.model import (
    FlowDocument,
    ModelEvent,
    NodesAdded,
    NodesChanged,
    NodesRemoved,
    SelectionChanged,
)

NODE_ROLE = Qt.ItemDataRole.UserRole + 1


class Outline(QTreeWidget):
    """The nodes of `document`, nested; `centre` is called with a node id on a click."""

    def __init__(
        self, document: FlowDocument, centre: Callable[[str], None] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.centre = centre
        self.setHeaderLabels(["Node", "Step"])
        self.setUniformRowHeights(True)
        self.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.items: dict[str, QTreeWidgetItem] = {}
        self._syncing = False
        events = document.events
        self._unsubscribe = [
            events.connect(NodesAdded, self._rebuild),
            events.connect(NodesRemoved, self._rebuild),
            events.connect(NodesChanged, self._changed),
            events.connect(SelectionChanged, self._selection),
        ]
        self.itemClicked.connect(self._clicked)
        self.itemSelectionChanged.connect(self._to_model)
        self.destroyed.connect(lambda *_: self.close_outline())
        self._rebuild(None)

    def close_outline(self) -> None:
        """Stop following the document."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _rebuild(self, _event: ModelEvent | None) -> None:
        self._syncing = True
        try:
            self.clear()
            self.items.clear()
            self._add_graph(TOP_GRAPH, None)
            self.expandToDepth(1)
        finally:
            self._syncing = False
        self._selection(SelectionChanged(self.document.selection.ids))

    def _add_graph(self, label: str, parent: QTreeWidgetItem | None) -> None:
        graph = self.document.index.graphs.get(label)
        for node in graph.get("nodes") or () if graph is not None else ():
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                self._add_node(node, parent)

    def _add_node(self, node: dict[str, Any], parent: QTreeWidgetItem | None) -> None:
        node_id = node["id"]
        text = [node_id, str(node.get("type", "?"))]
        item = QTreeWidgetItem(parent, text) if parent is not None else QTreeWidgetItem(self, text)
        item.setData(0, NODE_ROLE, node_id)
        if node.get("disabled") is True:
            item.setDisabled(True)
        self.items[node_id] = item
        for body in self.document.shape.bodies_of(node.get("type")):
            label = f"{node_id}.{body}"
            if label in self.document.index.graphs:
                group = QTreeWidgetItem(item, [body, ""])
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self._add_graph(label, group)

    def _changed(self, event: NodesChanged) -> None:
        for node_id in event.ids:
            item = self.items.get(node_id)
            if item is not None and node_id in self.document.index:
                node = self.document.node(node_id)
                item.setText(1, str(node.get("type", "?")))
                item.setDisabled(node.get("disabled") is True)

    def _selection(self, event: SelectionChanged) -> None:
        was, self._syncing = self._syncing, True
        try:
            for node_id, item in self.items.items():
                item.setSelected(node_id in event.ids)
        finally:
            self._syncing = was

    def _to_model(self) -> None:
        if self._syncing:
            return
        ids = [str(item.data(0, NODE_ROLE)) for item in self.selectedItems() if item.data(0, NODE_ROLE)]
        self.document.selection.select(ids)

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id and self.centre is not None:
            self.centre(str(node_id))


def outline_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """Dock factory (`studio/app/_docks.py`): the outline, centring the window's canvas."""
    canvas = getattr(window, "canvas", None)
    centre = getattr(canvas, "centre_on_node", None)
    return Outline(document, centre if callable(centre) else None)
