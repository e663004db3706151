"""Every edit of the command table, undone and redone; and what each one does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from studio.model import (
    COMMANDS,
    CommandError,
    DirtyChanged,
    EdgesChanged,
    FlowDocument,
    ModelEvent,
    NodesAdded,
    NodesChanged,
    NodesRemoved,
)

# One call of each command kind against the sample flow (tests/studio/model/conftest.py).
CASES: dict[str, dict[str, Any]] = {
    "add_node": {"type": "core.log", "params": {"message": "hi"}, "x": 5, "y": 6},
    "remove_nodes": {"ids": ["pick", "inner"]},
    "move_nodes": {"positions": {"start": [10, 20], "inner": [1, 2]}},
    "connect": {"source": "pick", "target": "guard"},
    "disconnect": {"source": "check", "target": "pick", "port": "true"},
    "set_param": {"node": "other", "name": "value", "value": {"a": [1]}},
    "set_node_settings": {"node": "pick", "name": "Pick one", "retry": {"max_attempts": 3}, "disabled": True},
    "set_nodes_settings": {"ids": ["pick", "other"], "disabled": True, "on_error": "continue"},
    "rename_node": {"node": "start", "new": "greet"},
    "collapse": {"node": "each"},
    "reparent": {"ids": ["other"], "graph": "guard.body"},
    "set_entry": {"section": "variables", "name": "total", "value": 10},
    "remove_entry": {"section": "outputs", "name": "result"},
    "rename_entry": {"section": "inputs", "old": "customer", "new": "client"},
    "set_flow_settings": {"priority": "high", "timeout_s": 600, "hotkey": "ctrl+alt+s", "requires": ["browser"]},
    "add_note": {"text": "Remember the VPN", "x": 3, "y": 4},
    "update_note": {"id": "note", "text": "changed"},
    "remove_note": {"id": "note"},
    "paste": {"clipboard": json.dumps({"nodes": [{"id": "start", "type": "core.noop"}], "edges": []})},
    "insert_chain": {"nodes": [{"id": "start", "type": "core.noop"}, {"type": "core.log"}], "after": "check"},
    "duplicate": {"ids": ["pick", "other"]},
    "extract_subflow": {"ids": ["pick"], "reference": "pick.json"},
    "align": {"ids": ["pick", "other", "check"], "edge": "left"},
    "distribute": {"ids": ["start", "check", "pick"], "axis": "vertical"},
    "auto_layout": {},
    "replace_flow": {
        "document": {
            "nodes": [
                {"id": "start", "type": "core.log", "params": {"message": "new"}},
                {"id": "n", "type": "core.noop"},
            ],
            "edges": [{"from": "start", "to": "n"}],
            "inputs": {"region": {"type": "string"}},
        }
    },
}
NEEDS_NOTE = {"update_note", "remove_note"}


def test_the_cases_cover_every_command_kind() -> None:
    assert set(CASES) == set(COMMANDS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_edit_undoes_and_redoes_exactly(doc: FlowDocument, kind: str) -> None:
    if kind in NEEDS_NOTE:
        doc.execute("add_note", text="a note")
        doc.seal()
    before = doc.to_text()
    doc.execute(kind, **CASES[kind])
    after = doc.to_text()
    assert after != before, f"{kind} changed nothing"
    assert doc.dirty
    assert doc.undo()
    assert doc.to_text() == before
    assert doc.redo()
    assert doc.to_text() == after
    # The index follows: every id in the document is found where it is.
    assert all(doc.index.by_parts[ref.parts] is ref for ref in doc.index.refs)


def test_the_dirty_flag_follows_the_clean_index(doc: FlowDocument, tmp_path: Any) -> None:
    seen: list[bool] = []
    doc.events.connect(DirtyChanged, lambda e: seen.append(e.dirty))
    doc.execute("set_param", node="other", name="value", value=3)
    doc.save(tmp_path / "f.json")
    assert not doc.dirty
    doc.undo()
    assert doc.dirty
    doc.redo()
    assert not doc.dirty
    assert seen == [True, False, True, False]


def test_consecutive_moves_and_typing_merge_until_sealed(doc: FlowDocument) -> None:
    original = doc.to_text()
    for x in range(1, 6):
        doc.execute("move_nodes", positions={"start": [x, x]})
    for text in ("h", "he", "hel"):
        doc.execute("set_param", node="start", name="message", value=text)
    assert doc.undo_stack.index == 2
    doc.undo()
    assert doc.node("start")["params"]["message"] == "hi {{ inputs.customer }}"
    assert doc.node("start")["ui"] == {"x": 5, "y": 5}
    doc.undo()
    assert doc.to_text() == original
    doc.execute("move_nodes", positions={"start": [1, 1]})
    doc.seal()
    doc.execute("move_nodes", positions={"start": [2, 2]})
    assert doc.undo_stack.index == 2


def test_removing_nodes_removes_their_edges_and_emits_events(doc: FlowDocument) -> None:
    events: list[ModelEvent] = []
    doc.events.connect(ModelEvent, events.append)
    doc.selection.select(["check", "start"])
    doc.execute("remove_nodes", ids=["check", "each"])
    assert "inner" not in doc.index  # went with its container
    assert [e for e in doc.raw["edges"] if {"check", "each"} & {e["from"], e["to"]}] == []
    removed = next(e for e in events if isinstance(e, NodesRemoved))
    assert removed.ids == {"check", "each", "inner"}
    assert doc.selection.ids == {"start"}
    assert any(isinstance(e, EdgesChanged) and "$" in e.graphs for e in events)
    events.clear()
    doc.undo()
    assert next(e for e in events if isinstance(e, NodesAdded)).ids == {"check", "each", "inner"}


def test_connect_checks_ports_cycles_and_graphs_and_the_error_port_sets_fallback(doc: FlowDocument) -> None:
    with pytest.raises(CommandError, match="has no port 'maybe'; its ports are: true, false, error"):
        doc.execute("connect", source="check", target="guard", port="maybe")
    with pytest.raises(CommandError, match="would form a cycle"):
        doc.execute("connect", source="guard", target="start")
    with pytest.raises(CommandError, match="different graphs"):
        doc.execute("connect", source="start", target="inner")
    with pytest.raises(CommandError, match="already connected"):
        doc.execute("connect", source="start", target="check")
    assert not doc.dirty  # refused edits change nothing
    doc.execute("connect", source="pick", target="guard", port="error")
    assert doc.node("pick")["on_error"] == "fallback"


def test_bad_settings_are_refused_with_the_reason(doc: FlowDocument) -> None:
    with pytest.raises(CommandError, match="on_error must be"):
        doc.execute("set_node_settings", node="pick", on_error="ignore")
    with pytest.raises(CommandError, match="retry: Input should be greater than or equal to 1"):
        doc.execute("set_node_settings", node="pick", retry={"max_attempts": 0})
    with pytest.raises(CommandError, match=r"settings\.priority"):
        doc.execute("set_flow_settings", priority="asap")
    with pytest.raises(CommandError, match="unknown edit 'explode'"):
        doc.execute("explode")
    with pytest.raises(CommandError, match="no node 'ghost'"):
        doc.execute("set_param", node="ghost", name="x", value=1)
    assert doc.undo_stack.index == 0


def test_paste_renames_taken_ids_and_rewrites_references(doc: FlowDocument) -> None:
    clipboard = doc.copy(["start", "check", "pick"])
    new = doc.execute("paste", clipboard=clipboard)
    assert new == ["start_2", "check_2", "pick_2"]
    assert doc.node("pick_2")["params"]["value"] == "{{ steps.start_2.output }}"
    assert doc.node("start_2")["ui"] == {"x": 40.0, "y": 40.0}
    pasted_edges = [e for e in doc.raw["edges"] if e["from"].endswith("_2")]
    assert pasted_edges == [{"from": "start_2", "to": "check_2"}, {"from": "check_2", "port": "true", "to": "pick_2"}]


def test_paste_between_flows_keeps_nested_bodies_unique(doc: FlowDocument, registry: Any) -> None:
    other = FlowDocument.new(registry=registry)
    other.execute("add_node", type="core.noop", id="inner")
    other.execute("paste", clipboard=doc.copy(["each"]), dx=0, dy=0)
    assert set(other.index.nodes) == {"inner", "each", "inner_2"}
    assert other.node("inner_2")["params"] == {"value": "{{ item }}"}


def test_reparent_moves_inner_edges_and_drops_crossing_ones(doc: FlowDocument) -> None:
    dropped = doc.execute("reparent", ids=["pick", "other"], graph="guard.body")
    crossing = {("check", "pick"), ("check", "other"), ("pick", "each"), ("other", "each")}
    assert {(e["from"], e["to"]) for e in dropped} == crossing
    assert doc.index.nodes["pick"].graph_label == "guard.body"
    with pytest.raises(CommandError, match="cannot be put inside itself"):
        doc.execute("reparent", ids=["guard"], graph="guard.body")
    doc.execute("reparent", ids=["pick"], graph="$")
    assert doc.index.nodes["pick"].graph_label == "$"


def test_renaming_a_variable_or_input_rewrites_its_references(doc: FlowDocument) -> None:
    doc.execute("rename_entry", section="variables", old="count", new="tries")
    assert list(doc.raw["variables"]) == ["tries", "unused"]
    assert doc.node("check")["params"]["condition"] == "{{ vars.tries > 1 }}"
    doc.execute("rename_entry", section="inputs", old="customer", new="client")
    assert doc.node("start")["params"]["message"] == "hi {{ inputs.client }}"


def test_extract_to_a_subflow_wires_the_call_in_place(doc: FlowDocument) -> None:
    result = doc.execute("extract_subflow", ids=["pick"], reference="pick.json")
    call = result["node"]
    sub = result["flow"]
    assert sub["nodes"][0]["params"]["value"] == "{{ inputs.start.output }}"
    assert sub["inputs"] == {"start": {"required": True}}
    assert sub["outputs"] == {"pick": "{{ steps.pick.output }}"}
    assert doc.node(call)["params"] == {"flow": "pick.json", "inputs": {"start": "{{ steps.start }}"}}
    assert {"from": "check", "port": "true", "to": call} in doc.raw["edges"]
    assert {"from": call, "to": "each"} in doc.raw["edges"]
    assert doc.raw["outputs"]["result"] == f"{{{{ steps.{call}.output.pick }}}}"


def test_align_distribute_and_layout_change_positions_only(doc: FlowDocument) -> None:
    doc.execute("align", ids=["pick", "other"], edge="top")
    assert doc.node("pick")["ui"]["y"] == doc.node("other")["ui"]["y"] == 200
    doc.execute("auto_layout", graph="$")
    ys = {n["id"]: n["ui"]["y"] for n in doc.raw["nodes"]}
    assert ys["start"] < ys["check"] < ys["pick"] == ys["other"] < ys["each"] < ys["guard"]
    xs = {n["id"]: n["ui"]["x"] for n in doc.raw["nodes"]}
    assert xs["pick"] != xs["other"]


def test_nodes_changed_names_the_touched_node(doc: FlowDocument) -> None:
    changed: list[NodesChanged] = []
    doc.events.connect(NodesChanged, changed.append)
    doc.execute("set_param", node="inner", name="value", value=1)
    assert changed == [NodesChanged(frozenset({"inner"}))]


def test_a_rename_names_the_nodes_and_parts_whose_references_moved(doc: FlowDocument) -> None:
    events: list[ModelEvent] = []
    doc.events.connect(ModelEvent, events.append)
    doc.execute("rename_entry", section="variables", old="count", new="tries")
    assert NodesChanged(frozenset({"check"})) in events
    assert not any(isinstance(e, NodesAdded | NodesRemoved) for e in events)


def test_rename_node_moves_its_edges_and_the_references_to_it(doc: FlowDocument) -> None:
    assert doc.execute("rename_node", node="start", new="greet") == "greet"
    assert "greet" in doc.index
    assert "start" not in doc.index
    assert {"from": "greet", "to": "check"} in doc.raw["edges"]
    assert doc.node("pick")["params"]["value"] == "{{ steps.greet.output }}"
    with pytest.raises(CommandError, match="taken"):
        doc.execute("rename_node", node="greet", new="pick")
    with pytest.raises(CommandError, match="not a valid id"):
        doc.execute("rename_node", node="greet", new="1 bad")
    doc.undo()
    assert doc.node("pick")["params"]["value"] == "{{ steps.start.output }}"
    assert {"from": "start", "to": "check"} in doc.raw["edges"]


def test_set_nodes_settings_is_one_undo_step(doc: FlowDocument) -> None:
    doc.execute("set_nodes_settings", ids=["pick", "other"], disabled=True, timeout_s=5)
    assert doc.node("pick")["disabled"] is True
    assert doc.node("other")["timeout_s"] == 5
    with pytest.raises(CommandError):
        doc.execute("set_nodes_settings", ids=["pick", "other"], on_error="explode")
    assert doc.node("other").get("on_error") is None
    doc.undo()
    assert "disabled" not in doc.node("pick")
    assert "timeout_s" not in doc.node("other")
