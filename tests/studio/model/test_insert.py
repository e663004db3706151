"""`insert_chain`: recorded nodes go in after a node as a chain, in one undo step."""

from __future__ import annotations

import pytest

from studio.model import CommandError, FlowDocument, NodesAdded


def test_a_chain_goes_between_a_node_and_what_followed_it_and_undo_restores_the_text(doc: FlowDocument) -> None:
    before = doc.to_text()
    added: list[frozenset[str]] = []
    doc.events.connect(NodesAdded, lambda e: added.append(e.ids))
    recorded = [
        {"id": "pick", "type": "core.noop", "params": {"value": 1}},  # a taken id: renamed
        {"id": "shout", "type": "core.log", "params": {"message": "{{ steps.pick.output }}"}},
    ]

    ids = doc.execute("insert_chain", nodes=recorded, after="each")

    assert ids == ["pick_2", "shout"]
    assert added == [frozenset(ids)]
    edges = [(e["from"], e.get("port", "out"), e["to"]) for e in doc.raw["edges"]]
    assert ("each", "out", "guard") not in edges
    assert {("each", "out", "pick_2"), ("pick_2", "out", "shout"), ("shout", "out", "guard")} <= set(edges)
    assert doc.node("shout")["params"]["message"] == "{{ steps.pick_2.output }}"
    assert doc.node("pick_2")["ui"] == {"x": 0.0, "y": 400.0}
    assert doc.undo_stack.undo_entry() is not None
    assert doc.undo_stack.undo_entry().label == "Insert recorded steps"

    assert doc.undo()
    assert doc.to_text() == before
    assert doc.redo()
    assert "shout" in doc.index.nodes


def test_without_a_node_the_chain_goes_at_the_end_of_a_graph(doc: FlowDocument) -> None:
    ids = doc.execute("insert_chain", nodes=[{"type": "core.noop"}, {"type": "core.noop"}], graph="guard.catch")
    assert ids == ["noop_1", "noop_2"]
    assert doc.node("noop_1")["ui"]["y"] == 0.0  # an empty graph: from the top
    catch = next(n for n in doc.raw["nodes"] if n["id"] == "guard")["catch"]
    assert catch["edges"] == [{"from": "noop_1", "to": "noop_2"}]


@pytest.mark.parametrize(("nodes", "message"), [([], "non-empty"), ([{"params": {}}], "needs a type")])
def test_bad_chains_are_refused_and_change_nothing(doc: FlowDocument, nodes: list, message: str) -> None:
    before = doc.to_text()
    with pytest.raises(CommandError, match=message):
        doc.execute("insert_chain", nodes=nodes, after="each")
    assert doc.to_text() == before
