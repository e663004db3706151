"""The minimap: the whole scene scaled down, the main view's visible area outlined; a click
there centres the main view. It shares the canvas's scene, so level-of-detail painting draws
boxes only at its scale."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from studio.views.canvas._view import FlowView


class Minimap(QGraphicsView):
    """An overview of `view`'s scene."""

    def __init__(self, view: FlowView, parent: QWidget | None = None) -> None:
        super().__init__(view.flow_scene, parent)
        self.view = view
        self.setInteractive(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumSize(160, 120)
        self.setMaximumHeight(260)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        view.flow_scene.changed.connect(lambda _regions: self.refit())
        view.horizontalScrollBar().valueChanged.connect(lambda _v: self.viewport().update())
        view.verticalScrollBar().valueChanged.connect(lambda _v: self.viewport().update())
        view.zoomChanged.connect(lambda _z: self.viewport().update())

    def refit(self) -> None:
        """Scale so the whole flow shows."""
        area = self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if not area.isEmpty():
            self.fitInView(area, Qt.AspectRatioMode.KeepAspectRatio)

    def visible_area(self) -> QRectF:
        """The part of the scene the main view shows."""
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        painter.setPen(QPen(QColor("#3daee9"), 0))
        painter.setBrush(QColor(61, 174, 233, 40))
        painter.drawRect(self.visible_area())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.view.centerOn(self.mapToScene(event.position().toPoint()))
        self.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.refit()
