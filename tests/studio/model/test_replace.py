"""`replace_flow`: an accepted proposal or a rolled-back version is one edit that undoes exactly."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from studio.model import CommandError, FlowDocument, NodesAdded, NodesChanged, NodesRemoved, diff_flows
from tests.studio.model.conftest import SAMPLE

PROPOSAL: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Proposed",
    "inputs": {"region": {"type": "string", "required": True}},
    "outputs": {"done": "{{ steps.start.output }}"},
    "nodes": [
        {"id": "start", "type": "core.log", "params": {"message": "proposed"}, "ui": {"x": 0, "y": 0}},
        {"id": "each", "type": "control.foreach", "params": {"items": [1]}, "body": {"nodes": [], "edges": []}},
    ],
    "edges": [{"from": "start", "to": "each"}],
}


def test_a_proposal_replaces_the_graph_in_one_undoable_step(doc: FlowDocument) -> None:
    before = doc.to_text()
    seen: list[Any] = []
    for kind in (NodesAdded, NodesRemoved, NodesChanged):
        doc.events.connect(kind, seen.append)
    doc.execute("replace_flow", document=PROPOSAL)
    assert diff_flows(doc.raw, {**PROPOSAL, "name": "Sample"}).ids("changed") == ()
    assert doc.raw["name"] == "Sample"  # the flow's name and settings stay
    assert doc.raw["x-custom"] == SAMPLE["x-custom"]
    assert sorted(doc.index.nodes) == ["each", "start"]
    removed = next(e for e in seen if isinstance(e, NodesRemoved))
    assert removed.ids == {"check", "pick", "other", "inner", "guard", "risky"}
    assert next(e for e in seen if isinstance(e, NodesChanged)).ids == {"start", "each"}
    assert doc.undo_stack.undo_entry() is not None
    assert doc.undo_stack.undo_entry().label == "Replace flow"  # type: ignore[union-attr]
    assert doc.undo()
    assert doc.to_text() == before
    assert not doc.undo()  # one step, not one per part
    assert doc.redo()
    assert json.loads(doc.to_text())["nodes"] == PROPOSAL["nodes"]


def test_a_whole_replacement_takes_every_part_but_the_format(doc: FlowDocument) -> None:
    before = doc.to_text()
    doc.execute("replace_flow", document=PROPOSAL, whole=True)
    assert doc.raw == {**PROPOSAL, "schema": "rpa.flow/1"}
    assert diff_flows(PROPOSAL, doc.raw).identical
    assert doc.undo()
    assert doc.to_text() == before


def test_the_same_document_changes_nothing(doc: FlowDocument) -> None:
    doc.execute("replace_flow", document=copy.deepcopy(SAMPLE))
    assert doc.undo_stack.undo_entry() is None


def test_a_non_flow_is_refused_and_changes_nothing(doc: FlowDocument) -> None:
    before = doc.to_text()
    with pytest.raises(CommandError, match="not a flow document"):
        doc.execute("replace_flow", document={"nodes": "oops"})
    assert doc.to_text() == before
