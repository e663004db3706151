"""Colours and sizes of the canvas, in one place so the light and dark themes stay consistent."""

from __future__ import annotations

import zlib

from PySide6.QtGui import QColor, QGuiApplication, QPalette

from studio.model._layout import BODY_LABEL, BODY_PAD, HEADER, NODE_HEIGHT, NODE_WIDTH

__all__ = [
    "BODY_LABEL",
    "BODY_PAD",
    "HEADER",
    "NODE_HEIGHT",
    "NODE_WIDTH",
    "PORT_RADIUS",
    "RUN_COLOURS",
    "family_colour",
    "is_dark",
    "text_colour",
]

PORT_RADIUS = 6.0

_FAMILIES = {
    "browser": "#2f7ed8",
    "desktop": "#8e44ad",
    "ocr": "#16a085",
    "pdf": "#c0392b",
    "word": "#2c5aa0",
    "excel": "#1e8449",
    "csv": "#27ae60",
    "files": "#b9770e",
    "http": "#d35400",
    "db": "#5d6d7e",
    "email": "#af601a",
    "vault": "#7d3c98",
    "keyring": "#7d3c98",
    "data": "#117a65",
    "ai": "#e74c3c",
    "control": "#566573",
    "core": "#707b7c",
    "flow": "#34495e",
}

RUN_COLOURS = {
    "running": "#f1c40f",
    "done": "#2ecc71",
    "completed": "#2ecc71",
    "skipped": "#95a5a6",
    "failed": "#e74c3c",
    "breakpoint": "#e67e22",
    "added": "#27ae60",
    "removed": "#c0392b",
    "changed": "#f39c12",
    "moved": "#3498db",
}
"""Border colours of a node by the debugger's state of it (and, in a diff, by what changed)."""


def family_colour(step_type: str) -> QColor:
    """The colour of a step family; a plugin's family gets a stable colour of its own."""
    family = step_type.split(".", 1)[0]
    known = _FAMILIES.get(family)
    if known is not None:
        return QColor(known)
    return QColor.fromHsv(zlib.crc32(family.encode()) % 360, 150, 190)


def is_dark() -> bool:
    """The application's palette is dark (the canvas follows the theme)."""
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def text_colour() -> QColor:
    """Text on the canvas."""
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)
