"""Versions of an orchestrator workflow in the studio: the list, a visual diff of any two on the
canvas, rollback, and the callers a publish would break.

`versions_dock` is the dock factory; `DiffView` shows any two flow documents as a diff (the AI
views use it for proposals); `RemoteWorkflows` is the one module that calls the orchestrator.
"""

from studio.views.versions._breaking import BreakingChangesList
from studio.views.versions._changes import ChangesPanel, show_value
from studio.views.versions._diffview import GHOST_OPACITY, DiffView
from studio.views.versions._dock import DRAFT, VersionsPanel, versions_dock
from studio.views.versions._remote import RemoteWorkflows, WorkflowServer

__all__ = [
    "DRAFT",
    "GHOST_OPACITY",
    "BreakingChangesList",
    "ChangesPanel",
    "DiffView",
    "RemoteWorkflows",
    "VersionsPanel",
    "WorkflowServer",
    "show_value",
    "versions_dock",
]
