"""Executions by state over time as stacked bars, painted with QPainter (QtCharts is not part of
PySide6-Essentials, and a bar per bucket needs no more)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.views.canvas._style import is_dark

STATE_COLOURS: dict[str, str] = {
    "succeeded": "#2ecc71",
    "failed": "#e74c3c",
    "timed_out": "#c0392b",
    "cancelled": "#95a5a6",
    "running": "#f1c40f",
    "paused": "#e67e22",
    "assigned": "#3498db",
    "queued": "#9b59b6",
    "lost": "#34495e",
}
"""The colour of each execution state in the chart and its legend (stacking order: this order)."""
_OTHER = "#7f8c8d"
_LEGEND_H = 22.0
_AXIS_W = 36.0
_AXIS_H = 18.0


class StateChart(QWidget):
    """Stacked bars: for each bucket, its executions by state; a legend of the states present."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buckets: list[dict[str, Any]] = []
        self.bucket = "hour"
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_buckets(self, buckets: list[dict[str, Any]], bucket: str) -> None:
        """Show these buckets (`[{"start", "counts": {state: n}}]`, in order)."""
        self.buckets = buckets
        self.bucket = bucket
        self.setToolTip(f"{sum(sum(b['counts'].values()) for b in buckets)} executions by {bucket}")
        self.update()

    def states(self) -> list[str]:
        """The states present, in the stacking order."""
        present = {state for b in self.buckets for state, n in b["counts"].items() if n}
        known = [s for s in STATE_COLOURS if s in present]
        return known + sorted(present - set(STATE_COLOURS))

    def peak(self) -> int:
        return max((sum(b["counts"].values()) for b in self.buckets), default=0)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            text = QColor("#dddddd") if is_dark() else QColor("#333333")
            states = self.states()
            self._legend(painter, states, text)
            plot = QRectF(_AXIS_W, _LEGEND_H + 4, self.width() - _AXIS_W - 6, self.height() - _LEGEND_H - _AXIS_H - 8)
            self._axes(painter, plot, text)
            self._bars(painter, plot, states)
        finally:
            painter.end()

    def _legend(self, painter: QPainter, states: list[str], text: QColor) -> None:
        x = _AXIS_W
        for state in states:
            painter.fillRect(QRectF(x, 6, 10, 10), QColor(STATE_COLOURS.get(state, _OTHER)))
            painter.setPen(text)
            painter.drawText(QRectF(x + 14, 2, 110, 18), Qt.AlignmentFlag.AlignVCenter, state)
            x += 24 + painter.fontMetrics().horizontalAdvance(state)
        if not states:
            painter.setPen(text)
            painter.drawText(QRectF(x, 2, 300, 18), Qt.AlignmentFlag.AlignVCenter, "No executions in this period")

    def _axes(self, painter: QPainter, plot: QRectF, text: QColor) -> None:
        painter.setPen(QPen(text, 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawText(QRectF(0, plot.top() - 6, _AXIS_W - 4, 14), Qt.AlignmentFlag.AlignRight, str(self.peak()))
        painter.drawText(QRectF(0, plot.bottom() - 12, _AXIS_W - 4, 14), Qt.AlignmentFlag.AlignRight, "0")
        if not self.buckets:
            return
        fmt = "%H:%M" if self.bucket == "hour" else "%d %b"
        labels = 6
        step = max(1, len(self.buckets) // labels)
        width = plot.width() / len(self.buckets)
        for index in range(0, len(self.buckets), step):
            start = datetime.fromisoformat(str(self.buckets[index]["start"]))
            x = plot.left() + index * width
            painter.drawText(QRectF(x, plot.bottom() + 2, 60, _AXIS_H), Qt.AlignmentFlag.AlignLeft, start.strftime(fmt))

    def _bars(self, painter: QPainter, plot: QRectF, states: list[str]) -> None:
        peak = self.peak()
        if not self.buckets or peak == 0:
            return
        width = plot.width() / len(self.buckets)
        gap = min(2.0, width * 0.15)
        painter.setPen(Qt.PenStyle.NoPen)
        for index, bucket in enumerate(self.buckets):
            y = plot.bottom()
            for state in states:
                count = bucket["counts"].get(state, 0)
                if not count:
                    continue
                height = plot.height() * count / peak
                y -= height
                painter.setBrush(QColor(STATE_COLOURS.get(state, _OTHER)))
                painter.drawRect(QRectF(plot.left() + index * width + gap / 2, y, width - gap, height))
