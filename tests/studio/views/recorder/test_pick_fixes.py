"""Healed-selector fixes the recorder offers are listed, and accepting one edits its node (one undo step)."""

from __future__ import annotations

from typing import Any

from studio.model import FlowDocument
from studio.views.recorder import PickController, RecorderView

FIX = {
    "path": "login",
    "node": "login",
    "old": "#sign-in",
    "new": 'internal:role=button[name="Sign in"i]',
    "score": 0.93,
}


def test_an_offered_fix_is_listed_and_accepting_it_changes_the_node(qtbot: Any) -> None:
    document = FlowDocument(
        {
            "schema": "rpa.flow/1",
            "name": "Fixes",
            "nodes": [
                {"id": "login", "type": "browser.click", "params": {"target": "#sign-in"}},
                {"id": "read", "type": "browser.get_text", "params": {"target": {"selector": "#old", "fallbacks": []}}},
            ],
            "edges": [],
        }
    )
    view = RecorderView(document)
    qtbot.addWidget(view)
    picker = PickController(document, view)
    offered: list[list[dict[str, Any]]] = []
    picker.fixes_offered.connect(offered.append)

    picker._on_event({"event": "fixes", "fixes": [FIX, {**FIX, "node": "read", "old": "#old", "new": "#new"}]})

    assert len(offered) == 1
    assert len(picker.fixes) == 2
    assert picker.accept_fix(picker.fixes[0])
    assert document.node("login")["params"]["target"] == FIX["new"]
    assert picker.accept_fix(picker.fixes[1])
    assert document.node("read")["params"]["target"] == {"selector": "#new", "fallbacks": []}
    assert not picker.accept_fix({**FIX, "node": "gone"})
    assert not picker.accept_fix({**FIX, "old": "#not-there"})
    document.undo()
    assert document.node("read")["params"]["target"]["selector"] == "#old"
