"""The studio's main window and its start-up: menus, toolbar, docks, start page, files.

`run_studio(file)` is what `rpa studio` and `python -m studio` call.
"""

from __future__ import annotations

from studio.app._actions import ActionSpec, ShortcutSheet, shortcut_rows
from studio.app._docks import DOCKS, DockSpec
from studio.app._run import application, run_studio
from studio.app._start import StartPage, Template, load_templates, template_document
from studio.app._theme import THEMES, apply_theme
from studio.app._window import DockError, StudioWindow, load_factory

__all__ = [
    "DOCKS",
    "THEMES",
    "ActionSpec",
    "DockError",
    "DockSpec",
    "ShortcutSheet",
    "StartPage",
    "StudioWindow",
    "Template",
    "application",
    "apply_theme",
    "load_factory",
    "load_templates",
    "run_studio",
    "shortcut_rows",
    "template_document",
]
