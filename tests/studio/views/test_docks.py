"""The dock factories the main window loads (`factory(document, window) -> QWidget`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow
from pytestqt.qtbot import QtBot

from studio.model import FlowDocument, LiveValidation, Settings
from studio.views.panels import EntriesPanel, FlowSettingsPanel, ProblemsPanel
from studio.views.properties import PropertiesPanel
from studio.views.properties._fields import CredentialEditor

pytestmark = pytest.mark.gui

DOCKS = {
    "studio.views.properties:make_dock": PropertiesPanel,
    "studio.views.panels:make_entries_dock": EntriesPanel,
    "studio.views.panels:make_settings_dock": FlowSettingsPanel,
    "studio.views.panels:make_problems_dock": ProblemsPanel,
}


class Window(QMainWindow):
    """A main window offering what the factories look for."""

    def __init__(self, document: FlowDocument, folder: Path) -> None:
        super().__init__()
        self.validation = LiveValidation(document, delay_s=0)
        self.settings = Settings(folder / "settings.json")

    def credential_names(self) -> list[str]:
        return ["vault-one", "vault-two"]


def test_each_factory_makes_its_panel_inside_a_dock(qtbot: QtBot, doc: FlowDocument, tmp_path: Path) -> None:
    window = Window(doc, tmp_path)
    qtbot.addWidget(window)
    made = {}
    for spec, kind in DOCKS.items():
        module, _, name = spec.partition(":")
        widget = getattr(importlib.import_module(module), name)(doc, window)
        assert isinstance(widget, kind)
        dock = QDockWidget(spec, window)
        dock.setWidget(widget)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        made[kind] = widget
    problems = made[ProblemsPanel]
    assert isinstance(problems, ProblemsPanel)
    assert problems.validation is window.validation  # shared with the window
    assert problems.settings is window.settings
    doc.execute("add_node", id="sheet", type="excel.read", params={"path": "in.xlsx"})
    doc.selection.select(["sheet"])
    properties = made[PropertiesPanel]
    assert isinstance(properties, PropertiesPanel)
    credential = properties.context.rows[("storage_credential",)].editor
    assert isinstance(credential, CredentialEditor)
    assert [credential.combo.itemText(n) for n in range(credential.combo.count())] == ["vault-one", "vault-two"]
