"""The full-screen overlay the designer drags a region on.

A frameless, always-on-top window showing a screenshot of the screen, dimmed except for the
region being dragged; Escape cancels. The region is in the screenshot's pixels.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

DIM = QColor(0, 0, 0, 110)
PREVIEW_DELAY_MS = 120
"""The preview is recomputed once the mouse rested this long (a match over the screen takes ~10 ms)."""


class CaptureOverlay(QWidget):
    """Drag a rectangle over `screenshot`; `captured(QRect)` when the mouse is released.

    Args:
        screenshot: what the screen showed when the capture started.
        preview: says how the region would match (`"2 matches"`), asked while dragging once
            the mouse rests for `PREVIEW_DELAY_MS`; None for no preview.
        parent: the Qt parent (None: a top-level window).
    """

    captured = Signal(QRect)
    cancelled = Signal()

    def __init__(
        self,
        screenshot: QPixmap,
        preview: Callable[[QRect], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.preview = preview
        self.preview_text = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        self.setObjectName("capture-overlay")
        self.screenshot = screenshot
        self.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.Tool)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setGeometry(QRect(QPoint(0, 0), screenshot.size()))
        self._origin: QPoint | None = None
        self.region = QRect()

    def paintEvent(self, event: QPaintEvent) -> None:
        """The screenshot, dimmed, with the region clear and outlined."""
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self.screenshot)
        painter.fillRect(self.rect(), DIM)
        if not self.region.isNull():
            painter.drawPixmap(self.region, self.screenshot, self.region)
            painter.setPen(QPen(QColor(33, 150, 243), 2))
            painter.drawRect(self.region.adjusted(0, 0, -1, -1))
            painter.setPen(QColor(255, 255, 255))
            label = f"{self.region.width()} x {self.region.height()}"
            if self.preview_text:
                label += f"  {self.preview_text}"
            painter.drawText(self.region.bottomLeft() + QPoint(2, 16), label)
        else:
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(20, 30, "Drag around the image to find; Esc cancels")
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start the region."""
        self._origin = event.position().toPoint()
        self.region = QRect(self._origin, self._origin)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Grow the region with the mouse."""
        if self._origin is not None:
            self.region = QRect(self._origin, event.position().toPoint()).normalized()
            self.preview_text = ""
            if self.preview is not None:
                self._timer.start()
            self.update()

    def refresh_preview(self) -> None:
        """Ask how the region being dragged matches, and show it next to the region."""
        if self.preview is not None and self.region.width() >= 3 and self.region.height() >= 3:
            self.preview_text = self.preview(self.region)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """End the region: `captured` unless it is too small to be an image."""
        if self._origin is None:
            return
        self.region = QRect(self._origin, event.position().toPoint()).normalized()
        self._origin = None
        if self.region.width() < 3 or self.region.height() < 3:
            self.region = QRect()
            self.update()
            return
        self.hide()
        self.captured.emit(self.region)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Escape cancels."""
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            self.cancelled.emit()
        else:
            super().keyPressEvent(event)
