"""docs/studio.md lists exactly the shortcuts the window's actions have."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from studio.app import StudioWindow, shortcut_rows

pytestmark = pytest.mark.gui
PAGE = Path(__file__).resolve().parents[3] / "docs" / "studio.md"


def test_the_shortcuts_table_matches_the_actions(qtbot: QtBot, tmp_path: Path) -> None:
    window = StudioWindow(config=tmp_path, templates=[])
    qtbot.addWidget(window)
    section = PAGE.read_text(encoding="utf-8").split("## Keyboard shortcuts", 1)[1].split("\n## ", 1)[0]
    documented = [
        tuple(cell.strip() for cell in line.split("|")[1:-1])
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| menu")
    ]
    assert documented == shortcut_rows(window.actions_by_key)
