"""The flow's side panels: variables / inputs / outputs, flow settings, problems. Each is a
widget taking a `FlowDocument`, following its events and editing it only through commands."""

from __future__ import annotations

from PySide6.QtWidgets import QMainWindow, QWidget

from studio.model import FlowDocument, LiveValidation, Settings
from studio.views.panels._entries import EntriesPanel, EntryTable, read_value, show_value
from studio.views.panels._problems import SETTINGS_KEY, ProblemsPanel, disabled_rules
from studio.views.panels._settings import FlowSettingsPanel, capabilities

__all__ = [
    "SETTINGS_KEY",
    "EntriesPanel",
    "EntryTable",
    "FlowSettingsPanel",
    "ProblemsPanel",
    "capabilities",
    "disabled_rules",
    "make_entries_dock",
    "make_problems_dock",
    "make_settings_dock",
    "read_value",
    "show_value",
]


def make_entries_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """Dock factory: variables, inputs and outputs."""
    return EntriesPanel(document)


def make_settings_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """Dock factory: the flow settings."""
    return FlowSettingsPanel(document)


def make_problems_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """Dock factory: the problems list. It shares the window's `validation` (a `LiveValidation`)
    and `settings` when the window has them."""
    validation = getattr(window, "validation", None)
    settings = getattr(window, "settings", None)
    return ProblemsPanel(
        document,
        validation=validation if isinstance(validation, LiveValidation) else None,
        settings=settings if isinstance(settings, Settings) else None,
    )
