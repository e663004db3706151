"""The flow diff: statuses, field kinds, nested paths, and agreement with the orchestrator's diff."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from orchestrator.services.workflow_diff import diff_documents
from shared.flow import walk_nodes
from studio.model import FlowDiff, diff_flows, ghost_document, with_positions
from tests.studio.model.conftest import SAMPLE


def _node(document: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(v.node for v in walk_nodes(document) if v.node.get("id") == node_id)


def test_a_document_against_itself_is_identical() -> None:
    diff = diff_flows(SAMPLE, copy.deepcopy(SAMPLE))
    assert diff.identical
    assert not diff.logic_changed
    assert not diff.layout_only
    assert diff.nodes == {}
    assert diff.edges_added == diff.edges_removed == ()


def test_a_moved_node_is_told_apart_from_a_changed_one() -> None:
    after = copy.deepcopy(SAMPLE)
    _node(after, "pick")["ui"]["x"] = 500
    diff = diff_flows(SAMPLE, after)
    assert diff.ids("moved") == ("pick",)
    assert diff.ids("changed") == ()
    assert diff.layout_only
    assert not diff.logic_changed
    _node(after, "pick")["params"]["value"] = 7
    _node(after, "other")["name"] = "Other branch"
    _node(after, "other")["timeout_s"] = 5
    diff = diff_flows(SAMPLE, after)
    assert diff.ids("changed") == ("pick", "other")
    assert diff.logic_changed
    pick = diff.nodes["pick"]
    assert [(f.path, f.kind) for f in pick.fields] == [("params.value", "param"), ("ui.x", "layout")]
    assert [(f.before, f.after) for f in pick.params] == [("{{ steps.start.output }}", 7)]
    assert {f.path: f.kind for f in diff.nodes["other"].fields} == {"name": "label", "timeout_s": "setting"}


def test_nested_nodes_carry_their_container_path() -> None:
    after = copy.deepcopy(SAMPLE)
    _node(after, "inner")["params"]["value"] = "changed"
    guard = _node(after, "guard")
    guard["body"]["nodes"].append(
        {
            "id": "deep",
            "type": "control.foreach",
            "params": {"items": []},
            "body": {"nodes": [{"id": "deeper", "type": "core.noop"}], "edges": []},
        }
    )
    guard["body"]["nodes"] = [n for n in guard["body"]["nodes"] if n["id"] != "risky"]
    diff = diff_flows(SAMPLE, after)
    assert (diff.nodes["inner"].status, diff.nodes["inner"].graph, diff.nodes["inner"].path) == (
        "changed",
        "each.body",
        ("each",),
    )
    assert diff.nodes["deeper"].path == ("guard", "deep")
    assert diff.nodes["deeper"].status == "added"
    assert diff.nodes["risky"].status == "removed"
    assert diff.nodes["risky"].path == ("guard",)
    assert diff.nodes["risky"].node == {"id": "risky", "type": "core.noop"}  # the ghost's content


def test_a_node_moved_into_a_container_is_a_parent_change() -> None:
    after = copy.deepcopy(SAMPLE)
    other = _node(after, "other")
    after["nodes"].remove(other)
    after["edges"] = [e for e in after["edges"] if "other" not in (e["from"], e["to"])]
    _node(after, "each")["body"]["nodes"].append(other)
    diff = diff_flows(SAMPLE, after)
    assert diff.nodes["other"].status == "changed"
    assert diff.nodes["other"].path == ("each",)
    assert [(f.path, f.kind, f.before, f.after) for f in diff.nodes["other"].fields] == [
        ("parent", "parent", "$", "each.body")
    ]
    assert {(e.source, e.port, e.target) for e in diff.edges_removed} == {
        ("check", "false", "other"),
        ("other", "out", "each"),
    }


def test_inputs_outputs_variables_and_settings() -> None:
    after = copy.deepcopy(SAMPLE)
    after["inputs"]["customer"]["type"] = "number"
    after["inputs"]["region"] = {"type": "string"}
    del after["outputs"]["result"]
    after["variables"]["count"] = 1
    after["settings"] = {"timeout_s": 60}
    after["name"] = "Renamed"
    diff = diff_flows(SAMPLE, after)
    assert (diff.inputs.added, diff.inputs.changed, diff.inputs.removed) == (("region",), ("customer",), ())
    assert diff.outputs.removed == ("result",)
    assert diff.variables.changed == ("count",)
    assert diff.settings == {"timeout_s": (None, 60)}
    assert diff.document == {"name": ("Sample", "Renamed")}
    assert diff.logic_changed


# -- random edits: the diff reports exactly the edits made ---------------------------------------


def _top_ids(document: dict[str, Any]) -> list[str]:
    return [n["id"] for n in document["nodes"]]


def _leaves(document: dict[str, Any]) -> list[str]:
    return [v.node["id"] for v in walk_nodes(document) if not any(b in v.node for b in ("body", "catch", "finally"))]


def _edit(rng: random.Random, after: dict[str, Any], node_id: str, expected: dict[str, str]) -> None:
    node = _node(after, node_id)
    action = rng.choice(("param", "move", "label", "setting", "remove"))
    if action == "param":
        node.setdefault("params", {})[f"p{rng.randrange(9)}"] = rng.randrange(1000)
    elif action == "move":
        node["ui"] = {**node.get("ui", {}), "x": rng.randrange(1000, 2000)}
    elif action == "label":
        node["name"] = f"Step {rng.randrange(1000)}"
    elif action == "setting":
        node["disabled"] = True
    else:
        for visit in walk_nodes(after):
            if visit.node is node:
                visit.graph.graph["nodes"].remove(node)
                edges = visit.graph.graph.get("edges", [])
                edges[:] = [e for e in edges if node_id not in (e["from"], e["to"])]
                break
    expected[node_id] = {"move": "moved", "remove": "removed"}.get(action, "changed")


@pytest.mark.parametrize("seed", range(30))
def test_random_edits_are_exactly_what_the_diff_reports(seed: int) -> None:
    rng = random.Random(seed)
    after = copy.deepcopy(SAMPLE)
    expected: dict[str, str] = {}
    for node_id in rng.sample(_leaves(SAMPLE), rng.randint(1, 4)):
        _edit(rng, after, node_id, expected)
    for number in range(rng.randint(0, 2)):
        new_id = f"new_{number}"
        after["nodes"].append({"id": new_id, "type": "core.noop", "ui": {"x": number, "y": 900}})
        expected[new_id] = "added"
    added_edges = set()
    if rng.random() < 0.5 and len(_top_ids(after)) > 1:
        source, target = rng.sample(_top_ids(after), 2)
        after["edges"].append({"from": source, "port": "extra", "to": target})
        added_edges.add(("$", source, "extra", target))
    diff = diff_flows(SAMPLE, after)
    assert {i: c.status for i, c in diff.nodes.items()} == expected
    assert {(e.graph, e.source, e.port, e.target) for e in diff.edges_added} == added_edges
    removed_ids = {i for i, s in expected.items() if s == "removed"}
    lost_edges = {
        (e["from"], e.get("port", "out"), e["to"]) for e in SAMPLE["edges"] if removed_ids & {e["from"], e["to"]}
    }
    assert {(e.source, e.port, e.target) for e in diff.edges_removed} == lost_edges
    assert diff.layout_only == (set(expected.values()) == {"moved"} and not added_edges)


def test_the_studio_and_the_orchestrator_agree_on_a_pair() -> None:
    after = copy.deepcopy(SAMPLE)
    _node(after, "pick")["params"]["value"] = 1
    _node(after, "start")["ui"]["y"] = 40
    after["nodes"] = [n for n in after["nodes"] if n["id"] != "other"]
    after["nodes"].append({"id": "fresh", "type": "core.noop"})
    server = diff_documents(SAMPLE, after)
    studio: FlowDiff = diff_flows(SAMPLE, after)
    assert studio.raw == server
    assert set(studio.ids("added")) == set(server["nodes"]["added"]) == {"fresh"}
    assert set(studio.ids("removed")) == set(server["nodes"]["removed"]) == {"other"}
    assert set(studio.ids("changed")) | set(studio.ids("moved")) == {c["id"] for c in server["nodes"]["changed"]}
    assert studio.ids("moved") == ("start",)


def test_the_ghost_document_holds_both_sides_once() -> None:
    after = copy.deepcopy(SAMPLE)
    # `each` (a container) goes, but `inner` survives at the top; `risky` goes from guard's body.
    each = _node(after, "each")
    inner = each["body"]["nodes"].pop()
    after["nodes"].remove(each)
    after["nodes"].append(inner)
    after["edges"] = [e for e in after["edges"] if "each" not in (e["from"], e["to"])]
    _node(after, "guard")["body"]["nodes"].clear()
    diff = diff_flows(SAMPLE, after)
    assert set(diff.ids("removed")) == {"each", "risky"}
    ghost = ghost_document(SAMPLE, after, diff)
    ids = [v.node["id"] for v in walk_nodes(ghost)]
    assert sorted(ids) == sorted(v.node["id"] for v in walk_nodes(SAMPLE))  # every node, once
    assert _node(ghost, "each")["body"]["nodes"] == []  # inner is drawn where it is now
    assert [n["id"] for n in _node(ghost, "guard")["body"]["nodes"]] == ["risky"]
    assert {"from": "pick", "port": "out", "to": "each"} in ghost["edges"]
    assert "each" not in [n["id"] for n in after["nodes"]]


def test_nodes_without_a_position_are_placed_the_others_stay() -> None:
    flow = copy.deepcopy(SAMPLE)
    flow["nodes"].append({"id": "late", "type": "core.noop"})
    flow["edges"].append({"from": "other", "to": "late"})
    flow["nodes"].append({"id": "loose", "type": "core.noop"})
    placed = with_positions(flow)
    assert "ui" not in flow["nodes"][-1]  # the input is not changed
    # Only nodes without a place got one (the bodies of `each` and `guard` had none at all).
    assert set(diff_flows(flow, placed).ids("moved")) == {"inner", "risky", "late", "loose"}
    assert _node(placed, "late")["ui"] == {"x": 100, "y": 320}  # below its predecessor `other`
    assert _node(placed, "loose")["ui"]["y"] > 400  # below the lowest
    bare = {
        "schema": "rpa.flow/1",
        "name": "Bare",
        "nodes": [{"id": "a", "type": "core.noop"}, {"id": "b", "type": "core.noop"}],
        "edges": [{"from": "a", "to": "b"}],
    }
    laid = with_positions(bare)
    assert _node(laid, "a")["ui"]["y"] < _node(laid, "b")["ui"]["y"]  # laid out in layers
