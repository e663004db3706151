"""A list model of text lines that grows in batches (the journal): one insert per batch, so a
1,000-event journal is a handful of row inserts, not a thousand widget items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex


class LinesModel(QAbstractListModel):
    """Read-only lines, appended in batches."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.lines)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.lines[index.row()]
        return None

    def extend(self, lines: Sequence[str]) -> None:
        """Append `lines` at the end (one insert)."""
        if not lines:
            return
        start = len(self.lines)
        self.beginInsertRows(QModelIndex(), start, start + len(lines) - 1)
        self.lines.extend(lines)
        self.endInsertRows()

    def clear(self) -> None:
        """Drop every line."""
        self.beginResetModel()
        self.lines = []
        self.endResetModel()
