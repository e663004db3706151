"""The edits a designer makes, as one table of command kinds.

Each kind is a plain function `(edit, **args)` plus a label for the undo menu and, for edits
typed or dragged in many small steps, a merge key: consecutive edits with the same key (moving
the same nodes, typing into the same param) become one undo step until the view seals it.
There are no `if kind == ...` chains: `FlowDocument.execute` looks the kind up here, and
`tests/studio/model/test_commands.py` runs every kind, undoes and redoes it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import ValidationError

from shared.flow import TOP_GRAPH, FlowSettings, InputSpec, RetryPolicy
from shared.flow._model import IDENTIFIER_PATTERN, NODE_ID_PATTERN, ErrorPolicy
from studio.model._clipboard import copy_nodes, duplicate, extract_subflow, paste
from studio.model._edit import CommandError, Edit
from studio.model._insert import insert_chain
from studio.model._layout import align, auto_layout, distribute, move_nodes, place
from studio.model._refs import reference_pattern
from studio.model._replace import replace_flow

Run = Callable[..., Any]
MergeKey = Callable[[Mapping[str, Any]], Hashable]


@dataclass(frozen=True, slots=True)
class CommandKind:
    """One kind of edit."""

    label: str
    run: Run
    merge_key: MergeKey | None = None


_ID = re.compile(NODE_ID_PATTERN)
_NAME = re.compile(IDENTIFIER_PATTERN)


def fresh_id(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... whichever is free; `base` cleaned into a valid id."""
    base = re.sub(r"[^A-Za-z0-9_\-]", "_", base) or "node"
    if not re.match(r"[A-Za-z_]", base):
        base = f"n_{base}"
    if base not in taken:
        return base
    stem = re.sub(r"_\d+$", "", base)
    number = 2
    while f"{stem}_{number}" in taken:
        number += 1
    return f"{stem}_{number}"


# -- nodes ------------------------------------------------------------------------------------


def add_node(
    edit: Edit,
    *,
    type: str,
    params: Mapping[str, Any] | None = None,
    id: str | None = None,
    graph: str | None = None,
    x: float = 0,
    y: float = 0,
    **fields: Any,
) -> str:
    """Add a node of step `type` at (x, y) in `graph`; return its id."""
    if not isinstance(type, str) or not type:
        raise CommandError("a node needs a step type")
    taken = edit.all_ids()
    if id is not None and (not _ID.match(id) or id in taken):
        raise CommandError(f"node id '{id}' is {'taken' if id in taken else 'not a valid id'}")
    node_id = id or fresh_id(type.rsplit(".", 1)[-1], taken)
    node: dict[str, Any] = {"id": node_id, "type": type}
    if params:
        node["params"] = copy.deepcopy(dict(params))
    node.update(copy.deepcopy(fields))
    node["ui"] = {**node.get("ui", {}), "x": x, "y": y}
    structure_before = edit.change.structure
    target = edit.graph(graph, create=True)
    edit.append(edit.list_in(target, "nodes"), node)
    if structure_before or edit.change.structure or any(name in node for name in edit.shape.body_names):
        edit.structure_changed()
    else:
        edit.change.appended = (graph or TOP_GRAPH, node)
    edit.result = node_id
    return node_id


def remove_nodes(edit: Edit, *, ids: Any) -> None:
    """Remove nodes, what their bodies hold, and every edge touching them."""
    refs = edit.nodes(ids)
    removed = {ref.id for ref in refs}
    # A node inside a removed container goes with it.
    refs = [ref for ref in refs if not set(edit.index.ancestors(str(ref.id))) & removed]
    for label in {ref.graph_label for ref in refs}:
        graph = edit.graph(label)
        edges = graph.get("edges")
        if isinstance(edges, list):
            for edge in [
                e for e in edges if isinstance(e, dict) and (e.get("from") in removed or e.get("to") in removed)
            ]:
                edit.remove(edges, edge)
                edit.edges_changed(label)
    for ref in refs:
        edit.remove(ref.graph["nodes"], ref.node)
    edit.structure_changed()


def connect(edit: Edit, *, source: str, target: str, port: str = "out") -> None:
    """Add the edge `source --port--> target` (both in the same graph)."""
    src, dst = edit.node(source), edit.node(target)
    if src.graph_label != dst.graph_label:
        raise CommandError(f"'{source}' and '{target}' are in different graphs ({src.graph_label}, {dst.graph_label})")
    if source == target:
        raise CommandError(f"an edge cannot lead from '{source}' to itself")
    step_type = src.node.get("type")
    if isinstance(step_type, str) and step_type in edit.registry:
        params = src.node.get("params") if isinstance(src.node.get("params"), dict) else {}
        ports = edit.registry.get(step_type).ports_for(params or {})
        if ports is not None and port not in ports:
            raise CommandError(f"node '{source}' ({step_type}) has no port '{port}'; its ports are: {', '.join(ports)}")
    edges = edit.list_in(src.graph, "edges")
    pairs = [(e.get("from"), e.get("port", "out"), e.get("to")) for e in edges if isinstance(e, dict)]
    if (source, port, target) in pairs:
        raise CommandError(f"'{source}' is already connected to '{target}' on port '{port}'")
    if _reaches(pairs, target, source):
        raise CommandError(f"an edge from '{source}' to '{target}' would form a cycle (use a loop container to repeat)")
    edge = {"from": source, "to": target} if port == "out" else {"from": source, "port": port, "to": target}
    edit.append(edges, edge)
    edit.edges_changed(src.graph_label)
    if port == "error" and src.node.get("on_error", "fail") != "fallback":
        edit.set(src.node, "on_error", "fallback", node=source)


def _reaches(pairs: list[tuple[Any, Any, Any]], start: str, goal: str) -> bool:
    successors: dict[Any, list[Any]] = {}
    for source, _port, target in pairs:
        successors.setdefault(source, []).append(target)
    seen, stack = {start}, [start]
    while stack:
        current = stack.pop()
        if current == goal:
            return True
        for nxt in successors.get(current, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def disconnect(edit: Edit, *, source: str, target: str, port: str = "out") -> None:
    """Remove the edge `source --port--> target`."""
    src = edit.node(source)
    edges = src.graph.get("edges")
    for edge in edges if isinstance(edges, list) else ():
        if isinstance(edge, dict) and (edge.get("from"), edge.get("port", "out"), edge.get("to")) == (
            source,
            port,
            target,
        ):
            edit.remove(edges, edge)  # type: ignore[arg-type]
            edit.edges_changed(src.graph_label)
            return
    raise CommandError(f"no edge from '{source}' to '{target}' on port '{port}'")


_DELETE: Any = object()


def set_param(edit: Edit, *, node: str, name: str, value: Any = None, delete: bool = False) -> None:
    """Set (or with `delete`, remove) one param of a node."""
    ref = edit.node(node)
    params = edit.dict_in(ref.node, "params", node=node)
    if delete:
        edit.delete(params, name, node=node)
    else:
        edit.set(params, name, copy.deepcopy(value), node=node)


_ON_ERROR = set(get_args(ErrorPolicy))


def _check_setting(key: str, value: Any) -> Any:
    checks: dict[str, Callable[[Any], Any]] = {
        "name": lambda v: v if isinstance(v, str) else _bad("name", "text", v),
        "description": lambda v: v if isinstance(v, str) else _bad("description", "text", v),
        "disabled": lambda v: v if isinstance(v, bool) else _bad("disabled", "true or false", v),
        "on_error": lambda v: v if v in _ON_ERROR else _bad("on_error", " | ".join(sorted(_ON_ERROR)), v),
        "timeout_s": lambda v: (
            v
            if isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            else _bad("timeout_s", "a number of seconds > 0", v)
        ),
        "retry": lambda v: RetryPolicy.model_validate(v) and v,
    }
    if key not in checks:
        raise CommandError(f"unknown node setting '{key}'; settings are: {', '.join(sorted(checks))}")
    try:
        return checks[key](value)
    except ValidationError as err:
        raise CommandError(f"{key}: {err.errors()[0]['msg']}") from None


def _bad(key: str, expected: str, value: Any) -> Any:
    raise CommandError(f"{key} must be {expected}, not {value!r}")


def set_node_settings(edit: Edit, *, node: str, **changes: Any) -> None:
    """Change a node's settings (`name` is its label, `retry`, `timeout_s`, `on_error`,
    `disabled`, `description`); a value of None removes the setting."""
    ref = edit.node(node)
    for key, value in changes.items():
        if value is None or (key == "disabled" and value is False):
            if key == "on_error" or key in ref.node:
                edit.delete(ref.node, key, node=node)
            continue
        edit.set(ref.node, key, copy.deepcopy(_check_setting(key, value)), node=node)


def set_nodes_settings(edit: Edit, *, ids: Any, **changes: Any) -> None:
    """Change the same settings of several nodes at once (one undo step); as `set_node_settings`."""
    for ref in edit.nodes(ids):
        set_node_settings(edit, node=str(ref.id), **changes)


def rename_node(edit: Edit, *, node: str, new: str) -> str:
    """Give a node another id: its edges and every `steps.<old>` reference follow."""
    ref = edit.node(node)
    if new == node:
        raise CommandError(f"node '{node}' already has that id")
    if not isinstance(new, str) or not _ID.match(new) or new in edit.all_ids():
        raise CommandError(f"node id '{new}' is {'taken' if new in edit.all_ids() else 'not a valid id'}")
    edges = ref.graph.get("edges")
    for edge in edges if isinstance(edges, list) else ():
        for end in ("from", "to"):
            if isinstance(edge, dict) and edge.get(end) == node:
                edit.set(edge, end, new)
    edit.set(ref.node, "id", new)
    edit.edges_changed(ref.graph_label)
    edit.rewrite_templates(reference_pattern("steps", {node: new}))
    edit.change.nodes.discard(node)
    edit.structure_changed()
    edit.result = new
    return new


def collapse(edit: Edit, *, node: str, collapsed: bool = True) -> None:
    """Collapse (or expand) a container on the canvas."""
    ref = edit.node(node)
    ui = edit.dict_in(ref.node, "ui", node=node)
    if collapsed:
        edit.set(ui, "collapsed", True, node=node)
    else:
        edit.delete(ui, "collapsed", node=node)


def reparent(edit: Edit, *, ids: Any, graph: str | None = None) -> list[dict[str, Any]]:
    """Move nodes into another graph (a container's body, or out to the enclosing graph).

    Edges among the moved nodes move with them; edges crossing the boundary are removed and
    returned (the result), since an edge never leaves its graph.
    """
    refs = edit.nodes(ids)
    moved = {str(ref.id) for ref in refs}
    source_labels = {ref.graph_label for ref in refs}
    if len(source_labels) != 1:
        raise CommandError("the nodes to move must sit in one graph")
    source_label = source_labels.pop()
    target_label = graph or TOP_GRAPH
    if target_label == source_label:
        raise CommandError(f"the nodes are already in {target_label}")
    container = target_label.rpartition(".")[0] if target_label != TOP_GRAPH else None
    if container is not None and ({container, *edit.index.ancestors(container)} & moved):
        raise CommandError(f"a container cannot be put inside itself ('{container}')")
    target = edit.graph(target_label, create=True)
    source = edit.graph(source_label)
    dropped: list[dict[str, Any]] = []
    inner: list[dict[str, Any]] = []
    edges = source.get("edges")
    for edge in list(edges) if isinstance(edges, list) else ():
        if not isinstance(edge, dict) or not ({edge.get("from"), edge.get("to")} & moved):
            continue
        assert isinstance(edges, list)
        edit.remove(edges, edge)
        both = edge.get("from") in moved and edge.get("to") in moved
        (inner if both else dropped).append(edge)
    target_nodes = edit.list_in(target, "nodes")
    for ref in refs:
        edit.remove(ref.graph["nodes"], ref.node)
        edit.append(target_nodes, ref.node)
    if inner:
        target_edges = edit.list_in(target, "edges")
        for edge in inner:
            edit.append(target_edges, edge)
    edit.edges_changed(source_label)
    edit.edges_changed(target_label)
    edit.change.nodes |= moved
    edit.structure_changed()
    edit.result = dropped
    return dropped


# -- the flow ---------------------------------------------------------------------------------

_SECTIONS = {"variables": "vars", "inputs": "inputs", "outputs": None}


def _section(edit: Edit, section: str) -> dict[str, Any]:
    if section not in _SECTIONS:
        raise CommandError(f"unknown section '{section}'; sections are: {', '.join(_SECTIONS)}")
    edit.change.flow_keys.add(section)
    return edit.dict_in(edit.raw, section)


def set_entry(edit: Edit, *, section: str, name: str, value: Any = None) -> None:
    """Add or change a variable (initial value), an input (its spec) or an output (its value)."""
    entries = _section(edit, section)
    if not isinstance(name, str) or not _NAME.match(name):
        raise CommandError(f"'{name}' is not a valid name (letters, digits and _ only, not starting with a digit)")
    if section == "inputs":
        try:
            InputSpec.model_validate(value or {})
        except ValidationError as err:
            problem = err.errors()[0]
            raise CommandError(f"input '{name}': {'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None
        value = value or {}
    edit.set(entries, name, copy.deepcopy(value))


def remove_entry(edit: Edit, *, section: str, name: str) -> None:
    """Remove a variable, input or output."""
    entries = _section(edit, section)
    if name not in entries:
        raise CommandError(f"no {section[:-1]} '{name}'")
    edit.delete(entries, name)


def rename_entry(edit: Edit, *, section: str, old: str, new: str) -> None:
    """Rename a variable, input or output, and the `vars.<old>` / `inputs.<old>` references."""
    entries = _section(edit, section)
    if old not in entries:
        raise CommandError(f"no {section[:-1]} '{old}'")
    if not _NAME.match(new) or new in entries:
        raise CommandError(f"'{new}' is {'taken' if new in entries else 'not a valid name'}")
    renamed = {new if key == old else key: value for key, value in entries.items()}
    edit.set(edit.raw, section, renamed)
    scope = _SECTIONS[section]
    if scope is None:
        return
    edit.rewrite_templates(reference_pattern(scope, {old: new}))


_TOP_SETTINGS = {"name", "description", "requires", "tags"}


def set_flow_settings(edit: Edit, **changes: Any) -> None:
    """Change flow settings: `name`, `description`, `requires`, `tags`, and under `settings`
    `timeout_s`, `priority`, `max_concurrent_executions`, `max_parallel_nodes`, `hotkey`.
    A value of None removes the setting."""
    for key, value in changes.items():
        if key in _TOP_SETTINGS:
            if value is None:
                edit.delete(edit.raw, key)
            else:
                edit.set(edit.raw, key, copy.deepcopy(value))
            continue
        if key not in FlowSettings.model_fields:
            known = sorted(_TOP_SETTINGS | set(FlowSettings.model_fields))
            raise CommandError(f"unknown flow setting '{key}'; settings are: {', '.join(known)}")
        settings = edit.dict_in(edit.raw, "settings")
        edit.change.flow_keys.add("settings")
        if value is None:
            edit.delete(settings, key)
            continue
        try:
            FlowSettings.model_validate({key: value})
        except ValidationError as err:
            raise CommandError(f"settings.{key}: {err.errors()[0]['msg']} (got {value!r})") from None
        edit.set(settings, key, copy.deepcopy(value))


# -- notes ------------------------------------------------------------------------------------


def _notes(edit: Edit) -> list[Any]:
    edit.change.flow_keys.add("ui")
    return edit.list_in(edit.dict_in(edit.raw, "ui"), "notes")


def add_note(edit: Edit, *, text: str, x: float = 0, y: float = 0, graph: str = TOP_GRAPH, **extra: Any) -> str:
    """Add a sticky note (text on the canvas of `graph`); return its id."""
    note_id = fresh_id("note", edit.all_ids())
    edit.append(_notes(edit), {"id": note_id, "graph": graph, "text": text, "x": x, "y": y, **extra})
    edit.result = note_id
    return note_id


def _note(edit: Edit, note_id: str) -> tuple[list[Any], dict[str, Any]]:
    notes = _notes(edit)
    for note in notes:
        if isinstance(note, dict) and note.get("id") == note_id:
            return notes, note
    raise CommandError(f"no note '{note_id}'")


def update_note(edit: Edit, *, id: str, **changes: Any) -> None:
    """Change a note's text, position or size."""
    _, note = _note(edit, id)
    for key, value in changes.items():
        edit.set(note, key, value)


def remove_note(edit: Edit, *, id: str) -> None:
    """Remove a sticky note."""
    notes, note = _note(edit, id)
    edit.remove(notes, note)


def _ids_key(name: str) -> MergeKey:
    return lambda args: (name, frozenset(args.get("positions") or args.get("ids") or ()))


COMMANDS: dict[str, CommandKind] = {
    "add_node": CommandKind("Add node", add_node),
    "remove_nodes": CommandKind("Delete", remove_nodes),
    "move_nodes": CommandKind("Move", move_nodes, _ids_key("move")),
    "connect": CommandKind("Connect", connect),
    "disconnect": CommandKind("Disconnect", disconnect),
    "set_param": CommandKind("Edit param", set_param, lambda a: ("param", a.get("node"), a.get("name"))),
    "set_node_settings": CommandKind("Node settings", set_node_settings),
    "set_nodes_settings": CommandKind("Node settings", set_nodes_settings),
    "rename_node": CommandKind("Rename node", rename_node),
    "collapse": CommandKind("Collapse", collapse),
    "reparent": CommandKind("Move into container", reparent),
    "set_entry": CommandKind("Edit entry", set_entry, lambda a: ("entry", a.get("section"), a.get("name"))),
    "remove_entry": CommandKind("Remove entry", remove_entry),
    "rename_entry": CommandKind("Rename", rename_entry),
    "set_flow_settings": CommandKind("Flow settings", set_flow_settings),
    "add_note": CommandKind("Add note", add_note),
    "update_note": CommandKind("Edit note", update_note, lambda a: ("note", a.get("id"))),
    "remove_note": CommandKind("Remove note", remove_note),
    "paste": CommandKind("Paste", paste),
    "insert_chain": CommandKind("Insert recorded steps", insert_chain),
    "duplicate": CommandKind("Duplicate", duplicate),
    "extract_subflow": CommandKind("Extract to sub-flow", extract_subflow),
    "align": CommandKind("Align", align),
    "distribute": CommandKind("Distribute", distribute),
    "auto_layout": CommandKind("Auto-layout", auto_layout),
    "replace_flow": CommandKind("Replace flow", replace_flow),
}
"""Every edit the studio makes, by kind."""

__all__ = ["COMMANDS", "CommandKind", "copy_nodes", "fresh_id", "place"]
