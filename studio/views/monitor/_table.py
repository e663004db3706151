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

_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_USER = Qt.ItemDataRole.UserRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value


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


_COLOURS: dict[str, QColor] = {}


class ExecutionsTableModel(QAbstractTableModel):
    """Rows of `live` (it becomes the rows' listener); `fetch_more` is called for the next page."""

    def __init__(self, live: LiveExecutions, fetch_more: Callable[[], None] | None = None) -> None:
        super().__init__()
        if not _COLOURS:
            _COLOURS.update({state: QColor(colour) for state, colour in STATE_COLOURS.items()})
        self.live = live
        live.rows.listener = self
        self.fetch_more = fetch_more
        self.agent_names: dict[str, str] = {}
        self.loading = False
        self._texts: dict[str, tuple[Row, tuple[str, ...]]] = {}
        """Each row's cell texts, kept while the row object is the same (an update replaces it)."""

    # -- RowListener --------------------------------------------------------------------------

    def before(self, op: RowOp) -> None:
        """Called by the rows before they change."""
        if op.kind == "insert":
            self.beginInsertRows(QModelIndex(), op.index, op.index + op.count - 1)
        elif op.kind == "remove":
            self._texts.pop(str(self.live.rows.rows[op.index]["id"]), None)
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
            self._texts.clear()
            self.endResetModel()
        else:
            self.dataChanged.emit(self.index(op.index, 0), self.index(op.index, len(COLUMNS) - 1))

    def set_agent_names(self, names: dict[str, str]) -> None:
        """Show agents by these names (id -> name)."""
        self.agent_names = names
        self._texts.clear()
        if self.live.rows.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.live.rows) - 1, len(COLUMNS) - 1))

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
        # Called for every visible cell and role on each paint: plain int roles, cached texts.
        if role == _DISPLAY:
            return self._texts_of(index.row())[index.column()]
        if role == _FOREGROUND:
            if COLUMNS[index.column()][0] == "state":
                return _COLOURS.get(str(self.live.rows.rows[index.row()].get("state")))
            return None
        if role == _USER:
            return str(self.live.rows.rows[index.row()]["id"])
        if role == _TOOLTIP and COLUMNS[index.column()][0] == "state":
            row = self.live.rows.rows[index.row()]
            return row.get("waiting_reason") or (row.get("error") or {}).get("message")
        return None

    def _texts_of(self, position: int) -> tuple[str, ...]:
        row = self.live.rows.rows[position]
        ident = str(row["id"])
        texts = self._texts.get(ident)
        if texts is None or texts[0] is not row:
            texts = self._texts[ident] = (row, tuple(self.text(row, key) for key, _ in COLUMNS))
        return texts[1]

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
