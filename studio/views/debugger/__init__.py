"""The local debugger: a controller running the flow on the window's asyncio loop, and its dock."""

from studio.views.debugger._controller import DebugController
from studio.views.debugger._dock import (
    ACTIONS,
    ArtifactViewer,
    DebugActions,
    DebuggerDock,
    debugger_dock,
    fill_json_tree,
)

__all__ = [
    "ACTIONS",
    "ArtifactViewer",
    "DebugActions",
    "DebugController",
    "DebuggerDock",
    "debugger_dock",
    "fill_json_tree",
]
