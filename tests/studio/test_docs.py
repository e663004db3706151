"""docs/studio.md names every edit kind, every analyser rule and every debugger state."""

from __future__ import annotations

import re
from pathlib import Path

from studio.model import COMMANDS, RULES
from studio.model.debugger import TRANSITIONS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "studio.md"


def _first_column(heading: str) -> set[str]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z_\-]+)`", line.split("|")[1]))
    return names


def test_every_edit_kind_is_documented() -> None:
    assert _first_column("## Edits, undo and redo") == set(COMMANDS)


def test_every_analyser_rule_is_documented() -> None:
    assert _first_column("## Live validation and the analyser") == set(RULES)


def test_every_debugger_state_and_action_is_documented() -> None:
    text = PAGE.read_text(encoding="utf-8").split("## The debugger", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == 2 and cells[0] not in ("state", "---"):
            for state in cells[0].split(", "):
                rows[state] = set(cells[1].split(", "))
    table: dict[str, set[str]] = {}
    for state, action in TRANSITIONS:
        table.setdefault(state, set()).add(action)
    assert rows == table
