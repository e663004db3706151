"""The canvas's graphics items: nodes, containers with their bodies, ports, edges and notes.

Items paint themselves (no widget per node, no child text items) so a scene of thousands of
nodes builds fast, caches per item (`DeviceCoordinateCache`) and, zoomed far out, paints a box
only (level of detail). Items hold what they draw, copied from the document by the scene; they
never change the document themselves.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from studio.views.canvas._style import (
    BODY_LABEL,
    BODY_PAD,
    HEADER,
    NODE_HEIGHT,
    NODE_WIDTH,
    PORT_RADIUS,
    RUN_COLOURS,
    family_colour,
    is_dark,
    text_colour,
)

LOD_BOXES = 0.35
"""Below this scale a node is painted as a coloured box (its text would be unreadable)."""
_MOVING = QGraphicsItem.GraphicsItemFlag


def _lod(painter: QPainter, option: QStyleOptionGraphicsItem) -> float:
    return option.levelOfDetailFromTransform(painter.worldTransform())


class PortItem(QGraphicsItem):
    """An output port on a node's bottom edge; drag from it to a node to wire an edge."""

    def __init__(self, node: NodeItem, name: str) -> None:
        super().__init__()
        self.node = node
        self.name = name
        self.setParentItem(node)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def boundingRect(self) -> QRectF:
        r = PORT_RADIUS + 1
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if _lod(painter, option) < LOD_BOXES:
            return
        colour = QColor("#e74c3c") if self.name == "error" else family_colour(self.node.step_type)
        painter.setPen(QPen(text_colour(), 1))
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(QPointF(0, 0), PORT_RADIUS, PORT_RADIUS)
        if self.name not in ("out", "error"):
            painter.setFont(QFont(painter.font().family(), 7))
            painter.drawText(QRectF(-40, PORT_RADIUS, 80, 12), Qt.AlignmentFlag.AlignHCenter, self.name)


class NodeItem(QGraphicsItem):
    """One step: family colour, icon letter, title, id, disabled look, problem badge, run state."""

    def __init__(self, node_id: str, graph: str) -> None:
        super().__init__()
        self.node_id = node_id
        self.graph = graph
        self.step_type = ""
        self.title = node_id
        self.disabled = False
        self.problems = 0
        self.run_state: str | None = None
        self.ports: dict[str, PortItem] = {}
        self.edges: list[EdgeItem] = []
        self.width = NODE_WIDTH
        self.height = NODE_HEIGHT
        # No itemChange override: PySide converts its enum argument on every call of every item
        # (a second of a 5,000-node build); whoever moves a node redraws its edges instead.
        self.setFlags(_MOVING.ItemIsMovable | _MOVING.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)

    def refresh(self, node: dict[str, Any], ports: tuple[str, ...]) -> None:
        """Copy what is drawn from the raw node."""
        self.step_type = str(node.get("type") or "?")
        name = node.get("name")
        self.title = name if isinstance(name, str) and name else self.step_type
        self.disabled = node.get("disabled") is True
        self.setToolTip(f"{self.node_id} ({self.step_type})")
        self.setOpacity(0.45 if self.disabled else 1.0)
        self._set_ports(ports)
        self.update()

    def _set_ports(self, ports: tuple[str, ...]) -> None:
        if tuple(self.ports) != ports:
            for item in self.ports.values():
                scene = item.scene()
                if scene is not None:
                    scene.removeItem(item)
            self.ports = {name: PortItem(self, name) for name in ports}
        self.place_ports()

    def place_ports(self) -> None:
        """Spread the ports along the bottom edge (the error port last, at the right)."""
        count = len(self.ports)
        for number, item in enumerate(self.ports.values()):
            item.setPos(self.width * (number + 1) / (count + 1), self.height)

    def input_point(self) -> QPointF:
        """Where edges arrive (top centre), in this item's coordinates."""
        return QPointF(self.width / 2, 0)

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -10, self.width + 12, self.height + 12)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(0, 0, self.width, self.height))
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        colour = family_colour(self.step_type)
        box = QRectF(0, 0, self.width, self.height)
        if _lod(painter, option) < LOD_BOXES:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.fillRect(box, colour)
            return
        self._paint_box(painter, box, colour)
        self._paint_header(painter, colour)
        if self.problems:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e74c3c"))
            painter.drawEllipse(QPointF(self.width - 4, 0), 9, 9)
            painter.setPen(QColor("white"))
            painter.setFont(QFont(painter.font().family(), 7, QFont.Weight.Bold))
            painter.drawText(QRectF(self.width - 13, -9, 18, 18), Qt.AlignmentFlag.AlignCenter, str(self.problems))

    def _paint_box(self, painter: QPainter, box: QRectF, colour: QColor) -> None:
        fill = QColor("#2b2f36") if is_dark() else QColor("#ffffff")
        border = QColor(RUN_COLOURS[self.run_state]) if self.run_state in RUN_COLOURS else colour.darker(120)
        width = 3.0 if self.run_state or self.isSelected() else 1.2
        if self.isSelected() and not self.run_state:
            border = QColor("#3daee9")
        pen = QPen(border, width)
        if self.disabled:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(box, 6, 6)
        painter.fillRect(QRectF(0, 0, 6, self.height).adjusted(1, 1, 0, -1), colour)

    def _paint_header(self, painter: QPainter, colour: QColor) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QRectF(14, 14, 28, 28))
        family = self.step_type.split(".", 1)[0]
        painter.setPen(QColor("white"))
        base = painter.font().family()
        painter.setFont(QFont(base, 11, QFont.Weight.Bold))
        painter.drawText(QRectF(14, 14, 28, 28), Qt.AlignmentFlag.AlignCenter, (family[:1] or "?").upper())
        painter.setPen(text_colour())
        painter.setFont(QFont(base, 9, QFont.Weight.Bold))
        right = self.width - 52
        title = painter.fontMetrics().elidedText(self.title, Qt.TextElideMode.ElideRight, int(right))
        painter.drawText(QRectF(48, 10, right, 18), Qt.AlignmentFlag.AlignLeft, title)
        painter.setFont(QFont(base, 8))
        caption = self.node_id + ("  (disabled)" if self.disabled else "")
        painter.drawText(QRectF(48, 30, right, 16), Qt.AlignmentFlag.AlignLeft, caption)

    def adjust_edges(self) -> None:
        """Redraw the edges touching this node (it moved)."""
        for edge in self.edges:
            edge.adjust()


class BodyItem(QGraphicsItem):
    """One body of a container (`body`, `catch`...): a labelled area holding its graph's nodes."""

    def __init__(self, container: ContainerItem, name: str) -> None:
        super().__init__()
        self.container = container
        self.name = name
        self.label = f"{container.node_id}.{name}"
        self.rect = QRectF(0, 0, NODE_WIDTH + 2 * BODY_PAD, NODE_HEIGHT + 2 * BODY_PAD)
        self.setParentItem(container)

    def fit(self) -> None:
        """Size the body to the nodes and notes it holds (in its own coordinates)."""
        self.prepareGeometryChange()
        children = [c for c in self.childItems() if isinstance(c, NodeItem | NoteItem)]
        if not children:
            self.rect = QRectF(-BODY_PAD, -BODY_PAD - BODY_LABEL, NODE_WIDTH + 2 * BODY_PAD, 60 + BODY_LABEL)
            return
        area = QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT)  # the body's origin stays inside it
        for child in children:
            area = area.united(child.mapRectToParent(child.shape().boundingRect()))
        area = area.adjusted(-BODY_PAD, -BODY_PAD - BODY_LABEL, BODY_PAD, BODY_PAD)
        self.rect = area

    def boundingRect(self) -> QRectF:
        return self.rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        shade = QColor(255, 255, 255, 18) if is_dark() else QColor(0, 0, 0, 12)
        painter.setPen(QPen(family_colour(self.container.step_type).lighter(130), 1, Qt.PenStyle.DashLine))
        painter.setBrush(shade)
        painter.drawRoundedRect(self.rect, 4, 4)
        if _lod(painter, option) >= LOD_BOXES:
            painter.setPen(text_colour())
            painter.setFont(QFont(painter.font().family(), 8, QFont.Weight.Bold))
            painter.drawText(self.rect.adjusted(8, 3, -8, 0), Qt.AlignmentFlag.AlignLeft, self.name)


class ContainerItem(NodeItem):
    """A container (foreach, while, try, parallel...): a header and its bodies, or, collapsed, a
    node with a count of what it holds (the body items are then not built at all)."""

    def __init__(self, node_id: str, graph: str) -> None:
        super().__init__(node_id, graph)
        self.bodies: dict[str, BodyItem] = {}
        self.collapsed = False
        self.hidden_count = 0
        self.setZValue(0)

    def relayout(self) -> None:
        """Stack the bodies under the header and size the container around them."""
        self.prepareGeometryChange()
        top = HEADER + BODY_PAD
        width = NODE_WIDTH
        for body in self.bodies.values():
            body.fit()
            body.setPos(BODY_PAD - body.rect.left(), top - body.rect.top())
            top += body.rect.height() + BODY_PAD / 2
            width = max(width, body.rect.width() + 2 * BODY_PAD)
        self.width = width
        self.height = top + BODY_PAD / 2 if self.bodies else NODE_HEIGHT
        self.place_ports()
        for edge in self.edges:
            edge.adjust()
        self.update()

    def toggle_area(self) -> QRectF:
        """The header's collapse / expand marker (a click there toggles), in item coordinates."""
        return QRectF(self.width - 90, 2, 88, 20)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        super().paint(painter, option, widget)
        if _lod(painter, option) < LOD_BOXES:
            return
        painter.setPen(text_colour())
        painter.setFont(QFont(painter.font().family(), 8))
        mark = f"▸ {self.hidden_count} inside" if self.collapsed else "▾"
        painter.drawText(self.toggle_area().adjusted(0, 2, -6, 0), Qt.AlignmentFlag.AlignRight, mark)


class EdgeItem(QGraphicsPathItem):
    """An edge from a node's port to another node of the same graph."""

    def __init__(self, graph: str, source: NodeItem, port: str, target: NodeItem) -> None:
        super().__init__()
        self.graph = graph
        self.source = source
        self.port = port
        self.target = target
        self.ends = (QPointF(), QPointF())
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0.5)
        colour = QColor("#e74c3c") if port == "error" else QColor("#7f8c8d")
        pen = QPen(colour, 2)
        if port == "error":
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        source.edges.append(self)
        target.edges.append(self)
        self.setToolTip(f"{source.node_id} --{port}--> {target.node_id}")

    def detach(self) -> None:
        """Forget the nodes (the edge is going away)."""
        for node in (self.source, self.target):
            if self in node.edges:
                node.edges.remove(self)

    def adjust(self) -> None:
        """Redraw the curve between the port and the target's top."""
        port = self.source.ports.get(self.port)
        start = self.mapFromItem(port, QPointF(0, 0)) if port else self.mapFromItem(self.source, QPointF(0, 0))
        end = self.mapFromItem(self.target, self.target.input_point())
        bend = max(40.0, abs(end.y() - start.y()) / 2)
        path = QPainterPath(start)
        path.cubicTo(start + QPointF(0, bend), end - QPointF(0, bend), end)
        path.moveTo(end)
        path.lineTo(end + QPointF(-5, -9))
        path.moveTo(end)
        path.lineTo(end + QPointF(5, -9))
        self.ends = (start, end)
        self.setPath(path)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self.path())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if _lod(painter, option) < LOD_BOXES:
            # Zoomed far out: a straight hairline between the ends, without antialiasing.
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(self.pen().color(), 0))
            painter.drawLine(*self.ends)
            return
        if self.isSelected():
            pen = QPen(self.pen())
            pen.setColor(QColor("#3daee9"))
            pen.setWidthF(3)
            painter.setPen(pen)
            painter.drawPath(self.path())
            return
        super().paint(painter, option, widget)


class NoteItem(QGraphicsItem):
    """A sticky note (kept in the flow's `ui.notes`)."""

    def __init__(self, note_id: str, graph: str) -> None:
        super().__init__()
        self.note_id = note_id
        self.graph = graph
        self.text = ""
        self.width = 200.0
        self.height = 90.0
        self.model_pos = (0.0, 0.0)
        self.setFlags(_MOVING.ItemIsMovable | _MOVING.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(-1)

    def refresh(self, note: dict[str, Any]) -> None:
        """Copy the note's text and size."""
        self.text = str(note.get("text", ""))
        width, height = note.get("width"), note.get("height")
        self.prepareGeometryChange()
        self.width = float(width) if isinstance(width, int | float) else 200.0
        self.height = float(height) if isinstance(height, int | float) else 90.0
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, self.height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(QPen(QColor("#3daee9") if self.isSelected() else QColor("#c9a227"), 1.5))
        painter.setBrush(QColor("#fff3a8"))
        painter.drawRect(self.boundingRect())
        if _lod(painter, option) < LOD_BOXES:
            return
        painter.setPen(QColor("#3b3b3b"))
        painter.setFont(QFont(painter.font().family(), 9))
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        painter.drawText(self.boundingRect().adjusted(8, 6, -8, -6), int(flags), self.text)
