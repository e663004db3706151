"""The executions list as a `QAbstractTableModel` over `LiveExecutions`' rows.

The model follows the rows' operations (`RowListener`) with Qt's begin/end calls, so the view
keeps its scroll position and selection while rows arrive, and a change repaints one row.
Scrolling to the end asks for the next page (`canFetchMore` / `fetchMore`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from studio.views.canvas._style import RUN_COLOURS
from studio.views.monitor.model import LiveExecutions, Row, RowOp, parse_time

Index = QModelIndex | QPersistentModelIndex

COLUMNS: tuple[tuple[str, str], ...] = (
    ("workflow", "Workflow"),
    ("version", "Version"),
    ("state", "State"),
    ("trigger", "Trigger"),
    ("agent", "Agent"),
    ("created", "Created"),
    ("duration", "Duration"),
    ("id", "Id"),
)
"""(key, header) of each column, in order."""

STATE_COLOURS = {
    "succeeded": RUN_COLOURS["done"],
    "failed": RUN_COLOURS["failed"],
    "timed_out": RUN_COLOURS["failed"],
    "running": RUN_COLOURS["running"],
    "cancelled": RUN_COLOURS["skipped"],
}
"""A state's colour in the list: the canvas's run colours."""


def _time(value: Any) -> str:
    moment = parse_time(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def duration(row: Row, now: datetime | None = None) -> str:
    """How long it ran (still running: until `now`), as `1m 05s` or `4.2s`; empty before it starts."""
    started = parse_time(row.get("started_at"))
    if started is None:
        return ""
    ended = parse_time(row.get("finished_at")) or now
    if ended is None:
        return ""
    seconds = max(0.0, (ended - started).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


class ExecutionsTableModel(QAbstractTableModel):
    """Rows of `live` (it becomes the rows' listener); `fetch_more` is called for the next page."""

    def __init__(self, live: LiveExecutions, fetch_more: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.live = live
        live.rows.listener = self
        self.fetch_more = fetch_more
        self.agent_names: dict[str, str] = {}
        self.loading = False

    # -- RowListener --------------------------------------------------------------------------

    def before(self, op: RowOp) -> None:
        """Called by the rows before they change."""
        if op.kind == "insert":
            self.beginInsertRows(QModelIndex(), op.index, op.index + op.count - 1)
        elif op.kind == "remove":
            self.beginRemoveRows(QModelIndex(), op.index, op.index)
        elif op.kind == "reset":
            self.beginResetModel()

    def after(self, op: RowOp) -> None:
        """Called by the rows after they changed."""
        if op.kind == "insert":
            self.endInsertRows()
        elif op.kind == "remove":
            self.endRemoveRows()
        elif op.kind == "reset":
            self.endResetModel()
        else:
            self.dataChanged.emit(self.index(op.index, 0), self.index(op.index, len(COLUMNS) - 1))

    # -- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.live.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.live.rows.rows[index.row()]
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, key)
        if role == Qt.ItemDataRole.ForegroundRole and key == "state" and row.get("state") in STATE_COLOURS:
            return QColor(STATE_COLOURS[str(row["state"])])
        if role == Qt.ItemDataRole.UserRole:
            return str(row["id"])
        if role == Qt.ItemDataRole.ToolTipRole and key == "state":
            return row.get("waiting_reason") or (row.get("error") or {}).get("message")
        return None

    def text(self, row: Row, key: str) -> str:
        """What column `key` shows for `row`."""
        if key == "workflow":
            return str(row.get("workflow_name", ""))
        if key == "version":
            return f"v{row.get('version_number', '')}"
        if key == "state":
            return str(row.get("state", ""))
        if key == "trigger":
            return str((row.get("trigger") or {}).get("type", ""))
        if key == "agent":
            agent = str(row.get("agent_id") or "")
            return self.agent_names.get(agent, agent[:8])
        if key == "created":
            return _time(row.get("created_at"))
        if key == "duration":
            return duration(row)
        return str(row.get("id", ""))

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self.live.can_fetch_more and not self.loading

    def fetchMore(self, parent: Index) -> None:
        if self.fetch_more is not None and not parent.isValid():
            self.fetch_more()
