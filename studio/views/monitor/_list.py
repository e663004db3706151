"""The executions monitor: a live, filtered list of the organisation's executions.

Filters by workflow, state, agent, trigger, creation dates and a search text; the rows come a
page at a time (more as the table is scrolled to its end) and are refreshed every `POLL_MS`
while the monitor is visible (`model/_live.py` says what a refresh asks). Double-clicking a row
opens that execution's live view (`ExecutionView`) in a window of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from shared.client import ApiError
from shared.states import ExecutionStatus
from shared.steps import StepRegistry
from studio.views.monitor._execution import ExecutionView
from studio.views.monitor._table import COLUMNS, ExecutionsTableModel
from studio.views.monitor._worker import Calls
from studio.views.monitor.model import JSON, ExecutionFilter, LiveExecutions, MonitorSource, Poll

POLL_MS = 2000
"""How often the list is refreshed."""
TRIGGERS = ("manual", "retry", "schedule", "webhook", "chain", "event", "email", "files", "database", "attended")
"""Trigger types offered by the filter (the API accepts any)."""
_NO_DATE = QDate(2000, 1, 1)


class MonitorWidget(QWidget):
    """The executions list over `source` (None: not signed in yet; see `set_source`).

    Args:
        source: the orchestrator calls.
        parent: the Qt parent.
        poll_ms: refresh interval (0: no automatic refresh).
        registry: the step catalogue the execution views draw with (loaded in a worker when None).
    """

    opened = Signal(object)
    """An `ExecutionView` was opened."""
    loaded = Signal()
    """A page or a refresh was folded into the list."""

    def __init__(
        self,
        source: MonitorSource | None = None,
        parent: QWidget | None = None,
        *,
        poll_ms: int = POLL_MS,
        registry: StepRegistry | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.setObjectName("monitor")
        self.source: MonitorSource | None = None
        self.live = LiveExecutions()
        self.model = ExecutionsTableModel(self.live, self.load_more)
        self.calls = Calls(self)
        self.views: dict[str, ExecutionView] = {}
        self._polling = False
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.refresh)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self.apply_filters)
        if source is not None:
            self.set_source(source)
        if poll_ms:
            self._timer.start()

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        bar = QHBoxLayout()
        self.workflow_box = self._combo("monitor-workflow", [("All workflows", None)])
        states: list[tuple[str, str | None]] = [(s.value, s.value) for s in ExecutionStatus]
        self.state_box = self._combo("monitor-state", [("All states", None), *states])
        self.agent_box = self._combo("monitor-agent", [("All agents", None)])
        self.trigger_box = self._combo("monitor-trigger", [("All triggers", None)] + [(t, t) for t in TRIGGERS])
        self.after_edit = self._date("monitor-from", "from: any")
        self.before_edit = self._date("monitor-to", "to: any")
        self.search = QLineEdit()
        self.search.setObjectName("monitor-search")
        self.search.setPlaceholderText("Search: workflow name or id")
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        for widget in (self.workflow_box, self.state_box, self.agent_box, self.trigger_box):
            bar.addWidget(widget)
        bar.addWidget(self.after_edit)
        bar.addWidget(self.before_edit)
        bar.addWidget(self.search, 1)
        refresh = QPushButton("Refresh")
        refresh.setObjectName("monitor-refresh")
        refresh.clicked.connect(self.refresh)
        bar.addWidget(refresh)
        layout.addLayout(bar)
        self.table = QTableView()
        self.table.setObjectName("monitor-table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row measuring over 10,000 rows
        rows.setDefaultSectionSize(22)
        rows.hide()
        columns = self.table.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((200, 60, 90, 80, 110, 150, 80, 80)[: len(COLUMNS)]):
            self.table.setColumnWidth(column, width)
        columns.setStretchLastSection(True)
        self.table.doubleClicked.connect(self._activated)
        layout.addWidget(self.table, 1)
        self.status = QLabel("Not connected")
        self.status.setObjectName("monitor-status")
        layout.addWidget(self.status)

    def _combo(self, name: str, items: list[tuple[str, str | None]]) -> QComboBox:
        box = QComboBox()
        box.setObjectName(name)
        for label, value in items:
            box.addItem(label, value)
        box.currentIndexChanged.connect(lambda _: self.apply_filters())
        return box

    def _date(self, name: str, empty: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setObjectName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(_NO_DATE)
        edit.setSpecialValueText(empty)
        edit.setDate(_NO_DATE)
        edit.dateChanged.connect(lambda _: self.apply_filters())
        return edit

    # -- source and filters -----------------------------------------------------------------

    def set_source(self, source: MonitorSource) -> None:
        """Watch `source`'s executions (and fill the workflow and agent filters from it)."""
        self.source = source
        self.calls.call(source.list_workflows, done=self._on_workflows, failed=self._failed)
        self.calls.call(source.list_agents, done=self._on_agents, failed=self._failed)
        self.apply_filters()

    def _on_workflows(self, items: list[JSON]) -> None:
        self._fill(self.workflow_box, [(str(w.get("name")), str(w["id"])) for w in items])

    def _on_agents(self, items: list[JSON]) -> None:
        self.model.set_agent_names({str(a["id"]): str(a.get("name") or a["id"]) for a in items})
        self._fill(self.agent_box, [(str(a.get("name") or a["id"]), str(a["id"])) for a in items])

    def _fill(self, box: QComboBox, items: list[tuple[str, str]]) -> None:
        current = box.currentData()
        box.blockSignals(True)
        try:
            while box.count() > 1:
                box.removeItem(1)
            for label, value in sorted(items):
                box.addItem(label, value)
            box.setCurrentIndex(max(0, box.findData(current)) if current else 0)
        finally:
            box.blockSignals(False)

    def current_filter(self) -> ExecutionFilter:
        """The filter the bar's fields describe."""
        state = self.state_box.currentData()
        return ExecutionFilter(
            workflow_id=self.workflow_box.currentData(),
            states=(state,) if state else (),
            agent_id=self.agent_box.currentData(),
            trigger=self.trigger_box.currentData(),
            created_after=self._day(self.after_edit, 0),
            created_before=self._day(self.before_edit, 1),
            search=self.search.text(),
        )

    @staticmethod
    def _day(edit: QDateEdit, plus: int) -> datetime | None:
        day = edit.date()
        if day == _NO_DATE:
            return None
        moved = day.addDays(plus)
        local = datetime(moved.year(), moved.month(), moved.day()).astimezone()
        return local.astimezone(UTC)

    def apply_filters(self, new: ExecutionFilter | None = None) -> None:
        """Show the executions `new` (default: the bar's fields) selects, from the newest."""
        if self.source is None:
            return
        query = self.live.set_filter(new or self.current_filter())
        self._request_page(query)

    # -- loading ----------------------------------------------------------------------------

    def _request_page(self, query: dict[str, Any]) -> None:
        if self.source is None:
            return
        generation = self.live.generation
        self.model.loading = True
        self.status.setText("Loading…")
        self.calls.call(
            self.source.list_executions,
            query,
            done=lambda page: self._on_page(generation, page),
            failed=self._failed,
        )

    def _on_page(self, generation: int, page: JSON) -> None:
        if generation != self.live.generation:
            return  # an answer for a filter no longer shown
        self.model.loading = False
        self.live.take_page(page)
        self._say()
        self.loaded.emit()

    def load_more(self) -> None:
        """Load the next older page (the table calls this when scrolled to its end)."""
        query = self.live.more()
        if query is not None and not self.model.loading:
            self._request_page(query)

    def refresh(self) -> None:
        """Fold in what changed since the last look: new executions and unfinished ones' states."""
        if self.source is None or self._polling or self.model.loading or not self.isVisible():
            return  # a hidden monitor (a dock tab in the back) does not poll; it catches up when shown
        if not self.live.loaded_once:
            self.apply_filters(self.live.filter)
            return
        self._polling = True
        poll, query = self.live.start_poll()
        self._poll_page(self.live.generation, poll, query)

    def _poll_page(self, generation: int, poll: Poll, query: dict[str, Any]) -> None:
        assert self.source is not None
        self.calls.call(
            self.source.list_executions,
            query,
            done=lambda page: self._on_poll(generation, poll, page),
            failed=self._poll_failed,
        )

    def _on_poll(self, generation: int, poll: Poll, page: JSON) -> None:
        if generation != self.live.generation:
            self._polling = False
            return
        following = self.live.poll_page(poll, page)
        if following is not None:
            self._poll_page(generation, poll, following)
            return
        self._polling = False
        if self.live.finish_poll(poll) is None:
            self.apply_filters(self.live.filter)  # too much changed: load from the top
            return
        self._say()
        self.loaded.emit()

    def _poll_failed(self, error: Exception) -> None:
        self._polling = False
        self._failed(error)

    def _say(self) -> None:
        live = self.live
        total = "" if live.total is None else f" of {live.total}{'+' if live.total_capped else ''}"
        self.status.setText(f"{len(live.rows)}{total} executions · {datetime.now().strftime('%H:%M:%S')}")

    def _failed(self, error: Exception) -> None:
        self.model.loading = False
        text = error.message if isinstance(error, ApiError) else f"{type(error).__name__}: {error}"
        self.status.setText(f"Cannot read the executions: {text}")

    # -- opening ----------------------------------------------------------------------------

    def _activated(self, index: QModelIndex) -> None:
        self.open_execution(str(self.model.data(index, Qt.ItemDataRole.UserRole)))

    def open_execution(self, execution_id: str) -> ExecutionView:
        """Show execution `execution_id`'s live view (the open one, raised, if already shown)."""
        if self.source is None:
            raise RuntimeError("the monitor is not connected to an orchestrator")
        view = self.views.get(execution_id)
        if view is None:
            view = ExecutionView(self.source, execution_id, registry=self.registry)
            view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            view.resize(1100, 700)
            view.retried.connect(self.open_execution)
            view.destroyed.connect(lambda _=None, e=execution_id: self.views.pop(e, None))
            self.views[execution_id] = view
            self.opened.emit(view)
        view.show()
        view.raise_()
        return view

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.live.loaded_once:
            self.refresh()

    def shutdown(self) -> None:
        """Stop refreshing and close the execution views."""
        self._timer.stop()
        self.calls.close()
        for view in list(self.views.values()):
            view.shutdown()
            view.close()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)
