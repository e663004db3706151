"""PySide6 6.12.0 on Python < 3.12 drops a reference to None on every void call (`setPos`,
`setPen`, `setBrush`): a large scene aborts with "deallocating None". pyproject.toml excludes
that release; this test fails CI if a future release brings the bug back."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.gui

CALLS = 1_000


def test_none_keeps_its_references_over_a_thousand_void_calls(qapp: object) -> None:
    from PySide6.QtGui import QBrush, QColor, QPen
    from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene

    scene = QGraphicsScene()
    item = QGraphicsRectItem(0, 0, 10, 10)
    scene.addItem(item)
    pen, brush = QPen(QColor("black")), QBrush(QColor("white"))
    for warm in range(10):  # first calls may cache wrappers
        item.setPos(warm, warm)
    before = sys.getrefcount(None)
    for n in range(CALLS):
        item.setPos(n, n)
        item.setPen(pen)
        item.setBrush(brush)
    lost = before - sys.getrefcount(None)
    assert lost < CALLS // 10, f"{lost} references to None lost over {CALLS} setPos/setPen/setBrush calls"
    scene.clear()
