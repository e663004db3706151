"""The dashboard: executions by state over time, per-workflow figures against their SLA, agents
and the queue, refreshed on a timer; and the report exports.

Every orchestrator call runs in a worker thread (`asyncio.to_thread`) from a task on the
window's asyncio loop (qasync), so a slow server never freezes the window. The view keeps the
last answer (`data`) only to draw it and to export it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shared.client import ApiError
from studio.reports import (
    WORKFLOW_COLUMNS,
    ReportError,
    breached,
    dashboard_tables,
    executions_table,
    export_report,
    workflow_rows,
)
from studio.views.dashboard._api import OrchestratorApi
from studio.views.dashboard._chart import StateChart

NONE = "\u2013"
"""What a figure shows when there is none (an en dash)."""
BREACH_COLOUR = "#f5b7b1"
"""The background of a workflow's row whose executions breached its SLA."""
REFRESH_MS = 30_000


class Period(NamedTuple):
    label: str
    span: timedelta
    bucket: str


PERIODS: tuple[Period, ...] = (
    Period("Last 24 hours", timedelta(hours=24), "hour"),
    Period("Last 7 days", timedelta(days=7), "day"),
    Period("Last 30 days", timedelta(days=30), "day"),
)
STATE_FILTERS: tuple[str, ...] = ("", "succeeded", "failed", "timed_out", "cancelled", "running", "queued")


def _seconds(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


class DashboardView(QWidget):
    """The dashboard of the orchestrator `api` talks to (None: not signed in)."""

    def __init__(self, api: OrchestratorApi | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.data: dict[str, Any] | None = None
        self.pending: asyncio.Future[Any] | None = None
        self.exporting: asyncio.Future[Any] | None = None
        self.period = QComboBox()
        self.period.addItems([p.label for p in PERIODS])
        self.period.currentIndexChanged.connect(lambda _i: self.schedule())
        self.live = QCheckBox("Live")
        self.live.setToolTip("Refresh every 30 seconds")
        self.live.setChecked(True)
        self.live.toggled.connect(self._live_toggled)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.schedule)
        self.state_filter = QComboBox()
        self.state_filter.addItems(["Any state", *STATE_FILTERS[1:]])
        self.state_filter.setToolTip("Executions exported: only those in this state")
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_menu = QMenu(self.export_button)
        for what in ("Dashboard", "Executions"):
            for label, suffix in (("CSV", "csv"), ("Excel", "xlsx"), ("PDF", "pdf")):
                action = self.export_menu.addAction(f"{what} as {label}…")
                action.triggered.connect(lambda _c=False, w=what, s=suffix: self.choose_export(w, s))
        self.export_button.setMenu(self.export_menu)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.figures: dict[str, QLabel] = {}
        self.chart = StateChart()
        self.table = QTableWidget(0, len(WORKFLOW_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(WORKFLOW_COLUMNS))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # most executions first
        self.table.verticalHeader().setVisible(False)
        self._layout()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.schedule)
        if api is not None:
            self.timer.start()
        self.show_status()

    def _layout(self) -> None:
        bar = QHBoxLayout()
        for widget in (self.period, self.refresh_button, self.live):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(QLabel("Export executions (of the selected workflow) in:"))
        bar.addWidget(self.state_filter)
        bar.addWidget(self.export_button)
        grid = QGridLayout()
        names = (
            ("total", "Executions"),
            ("success", "Success rate"),
            ("online", "Agents online"),
            ("busy", "Agents busy"),
            ("offline", "Agents offline"),
            ("depth", "Queue depth"),
            ("oldest", "Oldest wait"),
            ("p95_wait", "p95 wait"),
        )
        for index, (key, title) in enumerate(names):
            value = QLabel(NONE)
            value.setObjectName(f"figure-{key}")
            value.setStyleSheet("font-size: 16pt; font-weight: bold;")
            self.figures[key] = value
            grid.addWidget(QLabel(title), 0, index)
            grid.addWidget(value, 1, index)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addLayout(grid)
        layout.addWidget(self.chart, 2)
        layout.addWidget(self.table, 3)

    # -- talking to the orchestrator ------------------------------------------------------------

    def set_api(self, api: OrchestratorApi | None) -> None:
        """Follow another orchestrator (None: signed out); refreshes at once when one is given."""
        self.api = api
        self.data = None
        self.show_data()
        if api is None:
            self.timer.stop()
            return
        if self.live.isChecked():
            self.timer.start()
        self.schedule()

    def _live_toggled(self, on: bool) -> None:
        if on and self.api is not None:
            self.timer.start()
            self.schedule()
        else:
            self.timer.stop()

    def schedule(self) -> None:
        """Start a refresh on the running loop unless one is under way (the timer's slot)."""
        if self.pending is not None and not self.pending.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no asyncio loop runs (a bare Qt application)
            self.pending = None
            return
        self.pending = loop.create_task(self.refresh())

    def period_bounds(self, now: datetime | None = None) -> tuple[datetime, datetime, str]:
        """(since, until, bucket) of the chosen period, ending now."""
        period = PERIODS[self.period.currentIndex()]
        until = now or datetime.now(UTC)
        return until - period.span, until, period.bucket

    async def refresh(self) -> bool:
        """Fetch the figures (in a worker thread) and show them; False when it failed (the status
        says why)."""
        api = self.api
        if api is None:
            self.show_status()
            return False
        since, until, bucket = self.period_bounds()
        self.status.setText("Refreshing…")
        try:
            data = await asyncio.to_thread(api.dashboard, since=since, until=until, bucket=bucket)
        except ApiError as error:
            self.status.setText(f"Could not load the dashboard: {error.message}")
            return False
        if api is not self.api:  # signed out or switched meanwhile: this answer is stale
            return False
        self.data = data
        self.show_data()
        return True

    # -- drawing ---------------------------------------------------------------------------------

    def show_status(self) -> None:
        if self.api is None:
            self.status.setText("Sign in to an orchestrator to see its dashboard.")
        elif self.data is not None:
            stamp = datetime.fromisoformat(str(self.data["generated_at"])).astimezone()
            self.status.setText(f"Updated {stamp:%H:%M:%S}")

    def show_data(self) -> None:
        """Redraw everything from `data`."""
        data = self.data
        self.show_status()
        if data is None:
            self.chart.set_buckets([], "hour")
            self.table.setRowCount(0)
            for label in self.figures.values():
                label.setText(NONE)
            return
        self._show_figures(data)
        self.chart.set_buckets(data["buckets"], data["bucket"])
        self._show_workflows(data)

    def _show_figures(self, data: dict[str, Any]) -> None:
        agents, queue = data["agents"], data["queue"]
        ok = sum(w["succeeded"] for w in data["workflows"])
        bad = sum(w["failed"] for w in data["workflows"])
        values = {
            "total": str(data["total"]),
            "success": f"{100 * ok / (ok + bad):.1f} %" if ok + bad else NONE,
            "online": str(agents["online"]),
            "busy": str(agents["busy"]),
            "offline": str(agents["offline"] + agents.get("unresponsive", 0)),
            "depth": str(queue["depth"]),
            "oldest": _seconds(queue["oldest_wait_seconds"]),
            "p95_wait": _seconds(queue["p95_wait_seconds"]),
        }
        for key, text in values.items():
            self.figures[key].setText(text)

    def _show_workflows(self, data: dict[str, Any]) -> None:
        self.table.setSortingEnabled(False)
        rows = workflow_rows(data)
        self.table.setRowCount(len(rows))
        for index, (row, figures) in enumerate(zip(rows, data["workflows"], strict=True)):
            over = breached(figures)
            for column, value in enumerate(row):
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, NONE if value is None else value)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, figures["workflow_id"])
                if over:
                    item.setBackground(QBrush(QColor(BREACH_COLOUR)))
                    item.setForeground(QBrush(QColor("#000000")))
                    item.setToolTip(
                        f"{figures['breached']} execution(s) over the SLA target of {figures['sla_seconds']} s"
                    )
                self.table.setItem(index, column, item)
        self.table.setSortingEnabled(True)

    def selected_workflow(self) -> tuple[str, str] | None:
        """(id, name) of the workflow whose row is selected: exports list only its executions."""
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 and self.table.selectionModel().hasSelection() else None
        return (str(item.data(Qt.ItemDataRole.UserRole)), item.text()) if item is not None else None

    def breached_rows(self) -> list[str]:
        """The names of the workflows shown as breaching their SLA."""
        names = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.background().color() == QColor(BREACH_COLOUR):
                names.append(item.text())
        return names

    # -- reports ---------------------------------------------------------------------------------

    def choose_export(self, what: str, suffix: str) -> None:
        """Ask where to save, then export (`what`: Dashboard or Executions)."""
        name, _ = QFileDialog.getSaveFileName(self, f"Export {what.lower()}", f"{what.lower()}.{suffix}")
        if not name:
            return
        path = Path(name)
        job = self.export_dashboard(path) if what == "Dashboard" else self.export_executions(path)
        try:
            self.exporting = asyncio.ensure_future(job)
        except RuntimeError:
            job.close()

    async def export_dashboard(self, path: Path) -> list[Path]:
        """Write the figures shown to `path` (CSV, Excel or PDF by its suffix)."""
        if self.data is None and not await self.refresh():
            return []
        assert self.data is not None
        return await self._write(dashboard_tables(self.data), path, "Dashboard")

    async def export_executions(self, path: Path) -> list[Path]:
        """Write the executions of the period (in the chosen state) to `path`."""
        api = self.api
        if api is None:
            self.show_status()
            return []
        since, until, _ = self.period_bounds()
        state = STATE_FILTERS[self.state_filter.currentIndex()]
        workflow = self.selected_workflow()
        self.status.setText("Fetching executions…")
        try:
            executions = await asyncio.to_thread(
                api.list_executions,
                created_after=since,
                created_before=until,
                state=state or None,
                workflow_id=workflow[0] if workflow else None,
            )
        except ApiError as error:
            self.status.setText(f"Could not list the executions: {error.message}")
            return []
        title = f"Executions {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC"
        title += (f", {workflow[1]}" if workflow else "") + (f", {state}" if state else "")
        return await self._write([executions_table(executions, title)], path, title)

    async def _write(self, tables: list[Any], path: Path, title: str) -> list[Path]:
        try:
            # In a worker thread, PDF too: QTextDocument is reentrant and Qt supports painting
            # on a QPdfWriter outside the GUI thread; a long list must not freeze the window.
            written = await asyncio.to_thread(export_report, tables, path, title=title)
        except ReportError as error:
            self.status.setText(str(error))
            return []
        self.status.setText("Saved " + ", ".join(p.name for p in written))
        return written


def api_of(window: object) -> OrchestratorApi | None:
    """The orchestrator API the window is signed in to, if it offers one (`orchestrator_api`)."""
    found = getattr(window, "orchestrator_api", None)
    api = found() if callable(found) else found
    return api if api is not None else None


def dashboard_dock(document: object, window: object) -> DashboardView:
    """The dashboard dock of the main window (it shows the organisation, not the document)."""
    del document
    return DashboardView(api_of(window))
