"""A read-only canvas of two versions at once: added nodes green, removed ones red and faded
(ghosts where they were), changed ones amber, moved-only ones blue; the change list beside it.

The canvas is the designer's own scene (`studio.views.canvas.FlowScene`) over a throwaway
document, `ghost_document(before, after)`, with each node's diff status set through the same
run-state colouring the debugger uses. Nothing here can edit a real document.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsView, QSplitter, QWidget

from shared.flow import GraphShape
from shared.steps import StepRegistry
from studio.model import FlowDiff, FlowDocument, SelectionChanged, diff_flows, ghost_document
from studio.views.canvas import FlowScene
from studio.views.canvas._style import NODE_HEIGHT, NODE_WIDTH, RUN_COLOURS
from studio.views.versions._changes import ChangesPanel

__all__ = ["GHOST_OPACITY", "DiffView"]

GHOST_OPACITY = 0.4
"""How visible a removed node is: there, to show where it was, but plainly gone."""


class DiffView(QSplitter):
    """The diff of `before` -> `after` (flow documents) on a canvas, with the change list (and
    the files added, removed and changed, when `assets` gives them: the server's diff does)."""

    def __init__(
        self,
        before: Any,
        after: Any,
        *,
        titles: tuple[str, str] = ("Before", "After"),
        registry: StepRegistry | None = None,
        assets: dict[str, list[str]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("versions-diff")
        self.titles = titles
        registry = registry or StepRegistry.default()
        shape = GraphShape(registry)
        self.diff: FlowDiff = diff_flows(before, after, shape)
        self.document = FlowDocument(ghost_document(before, after, self.diff, shape), registry=registry)
        self.scene = FlowScene(self.document, self)
        self.former_places: dict[str, QGraphicsRectItem] = {}
        """Dashed outlines where moved nodes were."""
        self.view = QGraphicsView(self.scene)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.changes = ChangesPanel(self.diff, titles, assets)
        self.addWidget(self.view)
        self.addWidget(self.changes)
        self.changes.setMinimumWidth(320)
        self.setStretchFactor(0, 2)
        self.setStretchFactor(1, 1)
        self._colour()
        self.changes.node_chosen.connect(self.show_node)
        self._unsubscribe = self.document.events.connect(SelectionChanged, self._selected)
        self.destroyed.connect(lambda *_: self.close_scene())

    def close_scene(self) -> None:
        """Stop following the throwaway document."""
        self._unsubscribe()
        self.scene.close()

    def _colour(self) -> None:
        for node_id, item in self.scene.nodes.items():
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
            change = self.diff.nodes.get(node_id)
            if change is not None:
                self.scene.set_run_state(node_id, change.status)
                if change.status == "removed":
                    item.setOpacity(GHOST_OPACITY)
                if change.status == "moved":
                    self._outline_former_place(node_id, item, change.fields)
        added = {(e.graph, e.source, e.port, e.target) for e in self.diff.edges_added}
        removed = {(e.graph, e.source, e.port, e.target) for e in self.diff.edges_removed}
        for label, edges in self.scene.edges.items():
            for edge in edges:
                key = (label, edge.source.node_id, edge.port, edge.target.node_id)
                if key in added or key in removed:
                    pen = QPen(QColor(RUN_COLOURS["added" if key in added else "removed"]), 3)
                    if key in removed:
                        pen.setStyle(Qt.PenStyle.DashLine)
                    edge.setPen(pen)

    def _outline_former_place(self, node_id: str, item: QGraphicsItem, fields: tuple[Any, ...]) -> None:
        before = {f.path: f.before for f in fields}
        x, y = before.get("ui.x", item.pos().x()), before.get("ui.y", item.pos().y())
        if not isinstance(x, int | float) or not isinstance(y, int | float):
            return
        outline = QGraphicsRectItem(0, 0, NODE_WIDTH, NODE_HEIGHT, item.parentItem())
        if item.parentItem() is None:
            self.scene.addItem(outline)
        pen = QPen(QColor(RUN_COLOURS["moved"]), 1.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        outline.setPen(pen)
        outline.setPos(float(x), float(y))
        outline.setZValue(0)
        outline.setToolTip(f"{node_id} was here")
        self.former_places[node_id] = outline

    def state_of(self, node_id: str) -> str | None:
        """The colour state of a node's item (its diff status), None when unchanged."""
        item = self.scene.nodes.get(node_id)
        return item.run_state if item is not None else None

    def show_node(self, node_id: str) -> None:
        """Select a node and bring it into view."""
        item = self.scene.nodes.get(node_id)
        if item is not None:
            self.document.selection.select([node_id])
            self.view.centerOn(item)

    def _selected(self, event: SelectionChanged) -> None:
        self.changes.show_node(next(iter(event.ids)) if len(event.ids) == 1 else None)

    def fit(self) -> None:
        """Zoom to show the whole flow."""
        rect = self.scene.itemsBoundingRect().adjusted(-40, -40, 40, 40)
        self.view.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
