"""The executions monitor's logic without Qt: filters, paging and live refresh, the journal
folded into node states, the actions a state allows, and the orchestrator calls it needs.

Nothing here imports PySide6 (`tests/studio/views/monitor/test_model.py` runs it with Qt
blocked); the widgets in `studio.views.monitor` follow these objects.
"""

from studio.views.monitor.model._actions import ACTIONS, allowed, is_terminal
from studio.views.monitor.model._filters import ExecutionFilter, parse_time
from studio.views.monitor.model._journal import (
    Folded,
    JournalFold,
    LogLine,
    NodeState,
    describe,
    node_id,
    on_canvas,
)
from studio.views.monitor.model._live import PAGE_SIZE, POLL_PAGES, LiveExecutions, Poll
from studio.views.monitor.model._rows import ExecutionRows, Row, RowListener, RowOp, sort_key
from studio.views.monitor.model._source import JSON, MonitorSource

__all__ = [
    "ACTIONS",
    "JSON",
    "PAGE_SIZE",
    "POLL_PAGES",
    "ExecutionFilter",
    "ExecutionRows",
    "Folded",
    "JournalFold",
    "LiveExecutions",
    "LogLine",
    "MonitorSource",
    "NodeState",
    "Poll",
    "Row",
    "RowListener",
    "RowOp",
    "allowed",
    "describe",
    "is_terminal",
    "node_id",
    "on_canvas",
    "parse_time",
    "sort_key",
]
