"""The canvas view: zoom, pan, rubber band, drop from the palette, wiring, and the edit actions.

Every edit is a command of the document (`execute`); a refused one (a cycle, a port the node
does not have) is reported through `message` for the status bar and changes nothing.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsView, QInputDialog, QWidget

from shared.flow import TOP_GRAPH
from studio.model import CommandError, FlowDocument
from studio.views.canvas._items import LOD_BOXES, ContainerItem, EdgeItem, NodeItem, NoteItem, PortItem
from studio.views.canvas._scene import FlowScene
from studio.views.canvas._style import NODE_HEIGHT, NODE_WIDTH

STEP_MIME = "application/x-rpa-step"
"""Drag payload of a palette entry: the step type, UTF-8."""
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.05, 4.0)


class FlowView(QGraphicsView):
    """The canvas of one document.

    Args:
        document: the flow shown.
        read_only: a preview (start page templates): no edits, no drops.
    """

    message = Signal(str)
    """A short text for the status bar (a refused edit's reason)."""
    zoomChanged = Signal(float)
    nodeActivated = Signal(str)
    """A node was double-clicked (the properties panel may focus it)."""

    def __init__(self, document: FlowDocument, parent: QWidget | None = None, *, read_only: bool = False) -> None:
        super().__init__(parent)
        self.document = document
        self.read_only = read_only
        self.flow_scene = FlowScene(document, self)
        self.setScene(self.flow_scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag if read_only else QGraphicsView.DragMode.RubberBandDrag)
        self.setAcceptDrops(not read_only)
        self.setInteractive(not read_only)
        self._wire: tuple[PortItem, QGraphicsPathItem] | None = None
        self._panning: QPointF | None = None

    def close_scene(self) -> None:
        """Stop following the document (the view is going away)."""
        self.flow_scene.close()

    # -- zoom and pan -----------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        """The current scale (1.0 = 100 %)."""
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        """Scale to `factor` (clamped to 5 %-400 %)."""
        factor = min(max(factor, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self.scale(factor / self.zoom, factor / self.zoom)
        self._zoomed()

    def _zoomed(self) -> None:
        self.flow_scene.set_detail(self.zoom >= LOD_BOXES)
        self.zoomChanged.emit(self.zoom)

    def zoom_in(self) -> None:
        """One step closer."""
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        """One step further."""
        self.set_zoom(self.zoom / ZOOM_STEP)

    def reset_zoom(self) -> None:
        """Back to 100 %."""
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Show the whole flow."""
        area = self.flow_scene.itemsBoundingRect()
        if area.isEmpty():
            return
        area = area.adjusted(-40, -40, 40, 40)
        self.fitInView(area, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom > 1.0:
            self.set_zoom(1.0)
        self._zoomed()

    def centre_on_node(self, node_id: str) -> None:
        """Scroll so the node is in the middle."""
        item = self.flow_scene.nodes.get(node_id)
        if item is not None:
            self.centerOn(item)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier or not self.read_only:
            steps = event.angleDelta().y() / 120
            if steps:
                self.set_zoom(self.zoom * ZOOM_STEP**steps)
            event.accept()
            return
        super().wheelEvent(event)

    # -- mouse: pan, wire, move -------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._panning = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        item = self.itemAt(event.position().toPoint())
        if self._clicked_toggle(item, event):
            event.accept()
            return
        if isinstance(item, PortItem) and not self.read_only and event.button() == Qt.MouseButton.LeftButton:
            line = QGraphicsPathItem()
            line.setPen(QPen(Qt.GlobalColor.gray, 2, Qt.PenStyle.DashLine))
            line.setZValue(10)
            self.flow_scene.addItem(line)
            self._wire = (item, line)
            event.accept()
            return
        super().mousePressEvent(event)

    def _clicked_toggle(self, item: object, event: QMouseEvent) -> bool:
        """A left click on a container's collapse marker toggles it."""
        if not isinstance(item, ContainerItem) or self.read_only or event.button() != Qt.MouseButton.LeftButton:
            return False
        local = item.mapFromScene(self.mapToScene(event.position().toPoint()))
        if not item.toggle_area().contains(local):
            return False
        self._run("collapse", node=item.node_id, collapsed=not item.collapsed)
        return True

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._panning is not None:
            delta = event.position() - self._panning
            self._panning = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        if self._wire is not None:
            port, line = self._wire
            path = QPainterPath(port.scenePos())
            path.lineTo(self.mapToScene(event.position().toPoint()))
            line.setPath(path)
            return
        super().mouseMoveEvent(event)
        if event.buttons() & Qt.MouseButton.LeftButton:
            for item in self.flow_scene.selectedItems():
                if isinstance(item, NodeItem):
                    item.adjust_edges()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._panning is not None:
            self._panning = None
            self.viewport().unsetCursor()
            return
        if self._wire is not None:
            port, line = self._wire
            self._wire = None
            self.flow_scene.removeItem(line)
            target = self.node_at(self.mapToScene(event.position().toPoint()), exclude=port.node)
            if target is not None:
                self.connect_nodes(port.node.node_id, target.node_id, port.name)
            return
        super().mouseReleaseEvent(event)
        if not self.read_only:
            self.commit_moves()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        item = self.itemAt(event.position().toPoint())
        if isinstance(item, NoteItem) and not self.read_only:
            self.edit_note(item.note_id)
            return
        node = self.node_at(self.mapToScene(event.position().toPoint()))
        if node is not None:
            if getattr(node, "collapsed", False) and not self.read_only:
                self._run("collapse", node=node.node_id, collapsed=False)
            self.nodeActivated.emit(node.node_id)
            return
        super().mouseDoubleClickEvent(event)

    def edit_note(self, note_id: str) -> bool:
        """Ask for a note's new text; True when it changed."""
        note = self.flow_scene.notes.get(note_id)
        if note is None:
            return False
        text, accepted = QInputDialog.getMultiLineText(self, "Sticky note", "Text:", note.text)
        if not accepted or text == note.text:
            return False
        self._run("update_note", id=note_id, text=text)
        self.document.seal()
        return True

    def _reparent_dropped(self, moved: dict[str, list[float]]) -> list[str]:
        """Nodes dropped over another graph's body go into it (a `reparent`, then a move to the
        drop point in the body's coordinates); the ids handled."""
        groups: dict[tuple[str, str], dict[str, list[float]]] = {}
        for node_id in moved:
            item = self.flow_scene.nodes[node_id]
            centre = item.mapToScene(QPointF(item.width / 2, item.height / 2))
            label, local = self.flow_scene.graph_at(centre, exclude=item)
            if label != item.graph:
                top_left: list[float] = [round(local.x() - item.width / 2), round(local.y() - item.height / 2)]
                groups.setdefault((item.graph, label), {})[node_id] = top_left
        done: list[str] = []
        for (_source, label), positions in groups.items():
            ids = list(positions)
            if self._run("reparent", ids=ids, graph=label) is not None:
                self._run("move_nodes", positions=positions)
                done.extend(ids)
        return done

    def node_at(self, point: QPointF, exclude: NodeItem | None = None) -> NodeItem | None:
        """The innermost node under a scene point."""
        for item in self.flow_scene.items(point):
            if isinstance(item, NodeItem) and item is not exclude:
                return item
        return None

    def commit_moves(self) -> None:
        """Put nodes and notes dragged on the canvas where they were dropped: one undo step."""
        nodes, notes = self.flow_scene.moved_positions()
        for node_id in self._reparent_dropped(nodes):
            nodes.pop(node_id, None)
        if nodes:
            self._run("move_nodes", positions=nodes)
        for note_id, (x, y) in notes.items():
            self._run("update_note", id=note_id, x=x, y=y)
        self.document.seal()

    # -- edits ------------------------------------------------------------------------------

    def _run(self, kind: str, **args: Any) -> Any:
        try:
            return self.document.execute(kind, **args)
        except CommandError as err:
            self.message.emit(str(err))
            self.flow_scene.rebuild()  # the items may show an edit the document refused
            return None

    def connect_nodes(self, source: str, target: str, port: str = "out") -> bool:
        """Wire an edge; a refusal goes to the status bar. True when connected."""
        try:
            self.document.execute("connect", source=source, target=target, port=port)
        except CommandError as err:
            self.message.emit(str(err))
            return False
        self.message.emit(f"connected {source} --{port}--> {target}")
        return True

    def add_step(self, step_type: str, scene_point: QPointF) -> str | None:
        """Add a node of `step_type` at a scene point (inside the body under it); select it."""
        graph, local = self.flow_scene.graph_at(scene_point)
        x, y = round(local.x() - NODE_WIDTH / 2), round(local.y() - NODE_HEIGHT / 2)
        node_id = self._run("add_node", type=step_type, graph=None if graph == TOP_GRAPH else graph, x=x, y=y)
        if isinstance(node_id, str):
            self.document.selection.select([node_id])
        return node_id if isinstance(node_id, str) else None

    def selected_ids(self) -> list[str]:
        """The selected nodes, in document order."""
        chosen = self.document.selection.ids
        return [ref.id for ref in self.document.index.refs if ref.id in chosen]

    def delete_selection(self) -> None:
        """Delete the selected nodes, notes and edges (one undo step for the nodes)."""
        items = self.flow_scene.selectedItems()
        for edge in [i for i in items if isinstance(i, EdgeItem)]:
            self._run("disconnect", source=edge.source.node_id, target=edge.target.node_id, port=edge.port)
        for note in [i for i in items if isinstance(i, NoteItem)]:
            self._run("remove_note", id=note.note_id)
        ids = self.selected_ids()
        if ids:
            self._run("remove_nodes", ids=ids)

    def copy_selection(self) -> bool:
        """Put the selected nodes on the clipboard as JSON."""
        ids = self.selected_ids()
        if not ids:
            return False
        QGuiApplication.clipboard().setText(self.document.copy(ids))
        self.message.emit(f"copied {len(ids)} node(s)")
        return True

    def cut_selection(self) -> None:
        """Copy, then delete."""
        if self.copy_selection():
            self._run("remove_nodes", ids=self.selected_ids())

    def paste(self) -> list[str]:
        """Paste clipboard nodes (from this flow or another) into the top graph; select them."""
        text = QGuiApplication.clipboard().text()
        if not text.strip():
            return []
        ids = self._run("paste", clipboard=text)
        if isinstance(ids, list):
            self.document.selection.select(ids)
            return ids
        return []

    def duplicate(self) -> list[str]:
        """Copy the selection next to itself."""
        ids = self.selected_ids()
        new = self._run("duplicate", ids=ids) if ids else None
        if isinstance(new, list):
            self.document.selection.select(new)
            return new
        return []

    def toggle_disabled(self) -> None:
        """Disable the selected nodes, or enable them when all are disabled."""
        ids = self.selected_ids()
        disable = not all(self.document.node(i).get("disabled") is True for i in ids)
        for node_id in ids:
            self._run("set_node_settings", node=node_id, disabled=True if disable else None)

    def toggle_collapsed(self) -> None:
        """Collapse or expand the selected containers."""
        for node_id in self.selected_ids():
            item = self.flow_scene.nodes.get(node_id)
            collapsed = getattr(item, "collapsed", None)
            if collapsed is not None:
                self._run("collapse", node=node_id, collapsed=not collapsed)

    def align(self, edge: str) -> None:
        """Line the selected nodes up on `edge`."""
        ids = self.selected_ids()
        if len(ids) >= 2:
            self._run("align", ids=ids, edge=edge)

    def distribute(self, axis: str) -> None:
        """Space the selected nodes evenly."""
        ids = self.selected_ids()
        if len(ids) >= 3:
            self._run("distribute", ids=ids, axis=axis)

    def auto_layout(self) -> None:
        """Lay every graph out top to bottom."""
        self._run("auto_layout")

    def add_note(self) -> str | None:
        """A sticky note in the middle of the view."""
        centre = self.mapToScene(self.viewport().rect().center())
        note = self._run("add_note", text="Note", x=round(centre.x()), y=round(centre.y()))
        return note if isinstance(note, str) else None

    def select_all(self) -> None:
        """Select every node of the document."""
        self.document.selection.select(self.document.index.nodes)

    # -- drop from the palette --------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(STEP_MIME) and not self.read_only:
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(STEP_MIME) and not self.read_only:
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        if not data.hasFormat(STEP_MIME) or self.read_only:
            super().dropEvent(event)
            return
        step_type = bytes(data.data(STEP_MIME).data()).decode("utf-8")
        if self.add_step(step_type, self.mapToScene(event.position().toPoint())):
            event.acceptProposedAction()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.read_only:
            self.fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not self.read_only:
            self.delete_selection()
            return
        super().keyPressEvent(event)
