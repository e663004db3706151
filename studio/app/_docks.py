"""The dock panels the main window shows, in order.

Each entry names its factory by import path, `factory(document, window) -> QWidget`; the window
imports every one at start (a module that does not import is an error, not a skipped panel)
and calls the factories again for each document it opens. A panel joins the window with one
line here.
"""

from __future__ import annotations

from typing import NamedTuple


class DockSpec(NamedTuple):
    """One dock panel: its title, `"package.module:factory"`, and its area."""

    title: str
    factory: str
    area: str
    """`left`, `right`, `top` or `bottom`."""
    tab_with: str | None = None
    """The title of a dock this one shares a place with, as a tab (the first one stays in front)."""


DOCKS: tuple[DockSpec, ...] = (
    DockSpec("Palette", "studio.views.palette:palette_dock", "left"),
    DockSpec("Workflows", "studio.views.remote:workflows_dock", "left", tab_with="Palette"),
    DockSpec("Outline", "studio.views.outline:outline_dock", "right"),
    DockSpec("Minimap", "studio.views.canvas:minimap_dock", "right"),
    DockSpec("Properties", "studio.views.properties:make_dock", "right"),
    DockSpec("Variables", "studio.views.panels:make_entries_dock", "right", tab_with="Properties"),
    DockSpec("Flow settings", "studio.views.panels:make_settings_dock", "right", tab_with="Properties"),
    DockSpec("Recorder", "studio.views.recorder:recorder_dock", "right", tab_with="Properties"),
    DockSpec("Versions", "studio.views.versions:versions_dock", "right", tab_with="Properties"),
    DockSpec("Problems", "studio.views.panels:make_problems_dock", "bottom"),
    DockSpec("Debugger", "studio.views.debugger:debugger_dock", "bottom", tab_with="Problems"),
    DockSpec("Executions", "studio.views.monitor:monitor_dock", "bottom", tab_with="Problems"),
    DockSpec("Dashboard", "studio.views.dashboard:dashboard_dock", "bottom", tab_with="Problems"),
    DockSpec("Credentials and agents", "studio.views.admin:admin_dock", "bottom", tab_with="Problems"),
)
