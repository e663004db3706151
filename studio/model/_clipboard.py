"""Copy, paste, duplicate and extract-to-sub-flow: nodes moved as JSON, ids kept unique.

The clipboard holds `{"rpa.clipboard": 1, "nodes": [...], "edges": [...]}` as JSON text, so a
selection pastes into another flow (or another studio). Pasted ids that are taken are renamed,
and the `steps.<id>` references inside the pasted templates follow the rename.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from shared.flow import walk_graphs, walk_nodes
from studio.model._edit import CommandError, Edit
from studio.model._index import NodeIndex, NodeRef
from studio.model._refs import reference_pattern, rewrite_in_place, step_references, template_strings

CLIPBOARD_TAG = "rpa.clipboard"
PASTE_OFFSET = 40.0


def _top_selection(index: NodeIndex, ids: Any) -> list[NodeRef]:
    if isinstance(ids, str) or not ids:
        raise CommandError("name the nodes as a non-empty list of ids")
    chosen = set(ids)
    missing = sorted(chosen - set(index.nodes))
    if missing:
        raise CommandError(f"no node '{missing[0]}' in this flow")
    return [ref for ref in index.refs if ref.id in chosen and not set(index.ancestors(str(ref.id))) & chosen]


def copy_nodes(index: NodeIndex, ids: Any) -> str:
    """The clipboard text of the nodes `ids` (with what their bodies hold and the edges among them)."""
    refs = _top_selection(index, ids)
    chosen = {ref.id for ref in refs}
    edges: list[Any] = []
    for graph in {ref.graph_label: ref.graph for ref in refs}.values():
        for edge in graph.get("edges") or ():
            if isinstance(edge, dict) and edge.get("from") in chosen and edge.get("to") in chosen:
                edges.append(edge)
    payload = {CLIPBOARD_TAG: 1, "nodes": [ref.node for ref in refs], "edges": edges}
    return json.dumps(payload, ensure_ascii=False)


def _parse_clipboard(clipboard: Any) -> dict[str, Any]:
    data = json.loads(clipboard) if isinstance(clipboard, str) else copy.deepcopy(clipboard)
    if isinstance(data, dict) and isinstance(data.get("nodes"), list):
        return {"nodes": data["nodes"], "edges": data.get("edges") if isinstance(data.get("edges"), list) else []}
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        return {"nodes": [data], "edges": []}
    raise CommandError("the clipboard holds no nodes")


def _rename(edit: Edit, pasted: dict[str, Any]) -> dict[str, str]:
    from studio.model._commands import fresh_id

    taken = edit.all_ids()
    renames: dict[str, str] = {}
    for visit in walk_nodes(pasted, edit.shape):
        old = visit.node.get("id")
        if not isinstance(old, str):
            continue
        new = fresh_id(old, taken)
        taken.add(new)
        if new != old:
            renames[old] = new
            visit.node["id"] = new
    for graph in walk_graphs(pasted, edit.shape):
        for edge in graph.graph.get("edges") or ():
            if isinstance(edge, dict):
                for key in ("from", "to"):
                    if edge.get(key) in renames:
                        edge[key] = renames[edge[key]]
    rewrite_in_place(pasted, reference_pattern("steps", renames))
    return renames


def paste(
    edit: Edit, *, clipboard: Any, graph: str | None = None, dx: float = PASTE_OFFSET, dy: float = PASTE_OFFSET
) -> list[str]:
    """Paste clipboard nodes into `graph`, shifted by (dx, dy); return the new ids."""
    from studio.model._layout import position

    try:
        pasted = _parse_clipboard(clipboard)
    except json.JSONDecodeError as err:
        raise CommandError(f"the clipboard is not JSON: {err.msg} (line {err.lineno})") from None
    if not all(isinstance(n, dict) and isinstance(n.get("type"), str) for n in pasted["nodes"]):
        raise CommandError("the clipboard holds something that is not a node (every node needs a type)")
    _rename(edit, pasted)
    target = edit.graph(graph, create=True)
    nodes = edit.list_in(target, "nodes")
    for node in pasted["nodes"]:
        x, y = position(node)
        node["ui"] = {**(node.get("ui") if isinstance(node.get("ui"), dict) else {}), "x": x + dx, "y": y + dy}
        edit.append(nodes, node)
    if pasted["edges"]:
        edges = edit.list_in(target, "edges")
        for edge in pasted["edges"]:
            edit.append(edges, edge)
        edit.edges_changed(graph or "$")
    edit.structure_changed()
    edit.result = [n["id"] for n in pasted["nodes"]]
    return list(edit.result)


def duplicate(edit: Edit, *, ids: Any) -> list[str]:
    """Copy the nodes and paste them next to themselves, in the same graph."""
    refs = _top_selection(edit.index, ids)
    labels = {ref.graph_label for ref in refs}
    if len(labels) != 1:
        raise CommandError("duplicate nodes of one graph at a time")
    return paste(edit, clipboard=copy_nodes(edit.index, ids), graph=labels.pop())


def _boundary(edit: Edit, refs: list[NodeRef]) -> tuple[set[str], list[dict[str, Any]], list[Any], list[Any]]:
    chosen = {str(ref.id) for ref in refs}
    labels = {ref.graph_label for ref in refs}
    if len(labels) != 1:
        raise CommandError("extract nodes of one graph at a time")
    graph = refs[0].graph
    inner, incoming, outgoing = [], [], []
    for edge in graph.get("edges") or ():
        if not isinstance(edge, dict):
            continue
        into, out_of = edge.get("to") in chosen, edge.get("from") in chosen
        if into and out_of:
            inner.append(edge)
        elif into:
            incoming.append(edge)
        elif out_of:
            outgoing.append(edge)
    return chosen, inner, incoming, outgoing


def extract_subflow(edit: Edit, *, ids: Any, reference: str, name: str | None = None) -> dict[str, Any]:
    """Replace the nodes `ids` with a `flow.call` of a new sub-flow that holds them.

    What the selection read from outside (`steps.<id>`, `vars.<name>`) becomes an input of the
    sub-flow, passed by the call; what outside nodes read from inside becomes an output, read
    through the call node (`steps.<call>.output.<id>`).

    Returns:
        `{"node": <the call node's id>, "flow": <the sub-flow document>}`; the caller saves the
        sub-flow as `reference` next to this flow.
    """
    from studio.model._commands import fresh_id
    from studio.model._layout import position
    from studio.model._refs import names_used

    refs = _top_selection(edit.index, ids)
    chosen, inner, incoming, outgoing = _boundary(edit, refs)
    body = copy.deepcopy({"nodes": [ref.node for ref in refs], "edges": inner})
    inside = {str(v.node.get("id")) for v in walk_nodes(body, edit.shape)}
    read_steps = sorted(step_references(body) - inside)
    read_vars = sorted(names_used(body, "vars"))
    read_inputs = sorted(names_used(body, "inputs"))
    rewrite_in_place(body, reference_pattern("steps", {s: f"__in__{s}" for s in read_steps}))
    rewrite_in_place(body, reference_pattern("vars", {v: f"__in__{v}" for v in read_vars}))
    for container, key, text in list(template_strings(body)):
        container[key] = text.replace("steps.__in__", "inputs.").replace("vars.__in__", "inputs.")
    call_id = fresh_id(f"call_{reference.rsplit('/', 1)[-1].split('.')[0]}", edit.all_ids())
    outside = {key: value for key, value in edit.raw.items() if key != "nodes"}
    outside_nodes = [r.node for r in edit.index.refs if r.id not in inside]
    read_back = sorted(step_references({"o": outside, "n": outside_nodes}) & chosen)
    call_inputs = {s: f"{{{{ steps.{s} }}}}" for s in read_steps}
    call_inputs |= {v: f"{{{{ vars.{v} }}}}" for v in read_vars}
    call_inputs |= {i: f"{{{{ inputs.{i} }}}}" for i in read_inputs}
    sub = {
        "schema": "rpa.flow/1",
        "name": name or reference,
        "inputs": {key: {"required": True} for key in call_inputs},
        "outputs": {s: f"{{{{ steps.{s}.output }}}}" for s in read_back},
        **body,
    }
    x, y = position(refs[0].node)
    graph = refs[0].graph
    label = refs[0].graph_label
    remove_from = [r.node for r in refs]
    for edge in [*inner, *incoming, *outgoing]:
        edit.remove(graph["edges"], edge)
    for node in remove_from:
        edit.remove(graph["nodes"], node)
    call = {
        "id": call_id,
        "type": "flow.call",
        "params": {"flow": reference, "inputs": call_inputs},
        "ui": {"x": x, "y": y},
    }
    edit.append(edit.list_in(graph, "nodes"), call)
    seen: set[tuple[Any, ...]] = set()
    for edge in incoming:
        key = (edge.get("from"), edge.get("port", "out"))
        if key not in seen:
            seen.add(key)
            edit.append(graph["edges"], {**edge, "to": call_id})
    for edge in outgoing:
        key = ("out", edge.get("to"))
        if key not in seen:
            seen.add(key)
            edit.append(graph["edges"], {"from": call_id, "to": edge.get("to")})
    # `steps.<inner>.output` is the sub-flow's output <inner>; any other `steps.<inner>` (its
    # status, its error) is the call node's.
    outputs = reference_pattern("steps", {f"{s}.output": f"{call_id}.output.{s}" for s in read_back})
    others = reference_pattern("steps", dict.fromkeys(read_back, call_id))
    edit.rewrite_templates(lambda text: others(outputs(text)))
    edit.edges_changed(label)
    edit.structure_changed()
    edit.result = {"node": call_id, "flow": sub}
    return dict(edit.result)
