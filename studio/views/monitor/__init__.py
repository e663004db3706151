"""The executions monitor: a live list of executions and one execution's live view.

`MonitorWidget` lists and filters the organisation's executions; `ExecutionView` shows one:
its flow coloured node by node, journal, log, outputs, artifacts and transitions, with Cancel,
Retry and Resume. Both read the orchestrator through a `MonitorSource` (`ApiSource` over the
shared API client). The logic without Qt lives in `studio.views.monitor.model`; the Qt views are
imported on first use, so that package runs without PySide6.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ApiSource",
    "ExecutionView",
    "ExecutionsTableModel",
    "MonitorDock",
    "MonitorWidget",
    "monitor_dock",
]

_WHERE = {
    "ApiSource": "studio.views.monitor._api",
    "ExecutionView": "studio.views.monitor._execution",
    "ExecutionsTableModel": "studio.views.monitor._table",
    "MonitorDock": "studio.views.monitor._dock",
    "MonitorWidget": "studio.views.monitor._list",
    "monitor_dock": "studio.views.monitor._dock",
}


def __getattr__(name: str) -> Any:
    # The Qt views load on first use: `studio.views.monitor.model` must import without PySide6.
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
