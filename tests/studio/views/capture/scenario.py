"""Run under a real X display (Xvfb, Qt's xcb platform): a window with a word and two copies of an
icon, the capture overlay over a real screenshot, a region dragged with QTest around one icon.

`python scenario.py OUT_DIR` writes OUT_DIR/result.json and OUT_DIR/overlay.png; the flow and its
captured image go to OUT_DIR/flow/. Used by test_capture.py (a process, because the test session's
QApplication runs offscreen).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from studio.model import FlowDocument
from studio.views.capture import CaptureResult, RegionCapture

ICON_AT = ((160, 40), (420, 200))
ICON = 40


def _icon() -> QPixmap:
    pixmap = QPixmap(ICON, ICON)
    pixmap.fill(QColor(30, 120, 200))
    painter = QPainter(pixmap)
    painter.fillRect(8, 8, 12, 24, QColor(250, 200, 20))
    painter.fillRect(24, 14, 10, 10, QColor(200, 30, 60))
    painter.end()
    return pixmap


def _window() -> QWidget:
    window = QWidget()
    window.setWindowFlags(Qt.WindowType.FramelessWindowHint)
    window.setStyleSheet("background: white;")
    window.setGeometry(0, 0, 640, 320)
    word = QLabel("Total", window)
    word.setFont(QFont("DejaVu Sans", 20))
    word.setStyleSheet("color: black;")
    word.move(40, 44)
    for x, y in ICON_AT:
        icon = QLabel(window)
        icon.setPixmap(_icon())
        icon.setGeometry(x, y, ICON, ICON)
    window.show()
    return window


def _settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main(out: Path) -> None:
    app = QApplication(sys.argv)
    window = _window()
    _settle(app, 1.0)
    flow = out / "flow" / "clicks.json"
    document = FlowDocument(
        {
            "schema": "rpa.flow/1",
            "name": "Clicks",
            "nodes": [{"id": "press", "type": "desktop.click", "params": {"target": "image:placeholder.png"}}],
            "edges": [],
        }
    )
    document.save(flow)
    capture = RegionCapture(document)
    results: list[CaptureResult] = []
    capture.finished.connect(results.append)
    overlay = capture.start("press")
    _settle(app, 0.5)
    x, y = ICON_AT[0]
    start, end = QPoint(x - 2, y - 2), QPoint(x + ICON + 2, y + ICON + 2)
    QTest.mousePress(overlay, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(overlay, end)
    overlay.region = QRect(start, end).normalized()
    _settle(app, 0.4)  # the mouse rests: the preview counts the matches
    preview = overlay.preview_text
    overlay.grab().save(str(out / "overlay.png"))
    QTest.mouseRelease(overlay, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    _settle(app, 0.2)
    result = results[0] if results else None
    document.save()
    (out / "result.json").write_text(
        json.dumps(
            {
                "screen": [overlay.screenshot.width(), overlay.screenshot.height()],
                "overlay_flags": int(overlay.windowFlags().value),
                "result": None
                if result is None
                else {
                    "path": str(result.path),
                    "target": result.target,
                    "region": list(result.region),
                    "matches": result.matches,
                    "anchor": result.anchor,
                    "notes": list(result.notes),
                },
                "param": document.node("press")["params"]["target"],
                "preview": preview,
            }
        )
    )
    window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
