"""A structured difference between two flow documents (no I/O; works on invalid drafts too).

The one definition of "changed": the orchestrator's diff route and the studio's diff view both use it.

Nodes are matched by id across the whole document, nested container graphs included (ids are
unique in a document), so a node moved into a loop body is one change (`parent`), not a removal
and an addition. Values are compared as JSON: `1`, `1.0` and `true` differ. The result:

    {"identical": bool,
     "document": {"name": {"from", "to"}, …},          # schema, name, description, version, requires, tags
     "settings": {"timeout_s": {"from", "to"}, …},
     "inputs":    {"added": [names], "removed": [names], "changed": [{"name", "fields": {path: {from, to}}}]},
     "outputs":   {"added": [...], "removed": [...], "changed": [{"name", "from", "to"}]},
     "variables": {same as outputs},
     "nodes": {"added": [ids], "removed": [ids], "changed": [{"id", "fields": {"params.url": {from, to}, …}}]},
     "edges": {"added": [{"graph", "from", "port", "to"}], "removed": [...]}}

Field paths join keys with dots (`params.headers.accept`); a key that is not an identifier is
quoted (`params.headers["X-Request-Id"]`). An empty object and a missing one are the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.flow._walk import GraphShape, walk_graphs, walk_nodes

DOCUMENT_FIELDS = ("schema", "name", "description", "version", "requires", "tags")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

EdgeKey = tuple[str, str, str, str]


def diff_documents(before: Any, after: Any, shape: GraphShape | None = None) -> dict[str, Any]:
    """What changed from `before` to `after` (both flow documents, valid or not).

    Args:
        before: the older document.
        after: the newer document.
        shape: where containers hold nested graphs (default: the built-in steps plus plugins).
    """
    shape = shape or GraphShape()
    a = before if isinstance(before, dict) else {}
    b = after if isinstance(after, dict) else {}
    nodes_a, edges_a = _collect(a, shape)
    nodes_b, edges_b = _collect(b, shape)
    set_a, set_b = set(edges_a), set(edges_b)
    result: dict[str, Any] = {
        "document": _changes({k: a.get(k) for k in DOCUMENT_FIELDS}, {k: b.get(k) for k in DOCUMENT_FIELDS}),
        "settings": _changes(_flatten(_object(a.get("settings")), ""), _flatten(_object(b.get("settings")), "")),
        "inputs": _inputs(_object(a.get("inputs")), _object(b.get("inputs"))),
        "outputs": _values(_object(a.get("outputs")), _object(b.get("outputs"))),
        "variables": _values(_object(a.get("variables")), _object(b.get("variables"))),
        "nodes": _nodes(nodes_a, nodes_b, shape.body_names),
        "edges": {
            "added": [_edge(e) for e in edges_b if e not in set_a],
            "removed": [_edge(e) for e in edges_a if e not in set_b],
        },
    }
    result["identical"] = not any(
        (
            result["document"],
            result["settings"],
            *(
                result[k][part]
                for k in ("inputs", "outputs", "variables", "nodes")
                for part in ("added", "removed", "changed")
            ),
            result["edges"]["added"],
            result["edges"]["removed"],
        )
    )
    return result


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _same(x: Any, y: Any) -> bool:
    return json.dumps(x, sort_keys=True, default=str) == json.dumps(y, sort_keys=True, default=str)


def _join(prefix: str, key: str) -> str:
    if _IDENT.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f'{prefix}["{key}"]'


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Leaves of nested objects by dotted path; lists are leaves (compared whole)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, dict) and item:
                out.update(_flatten(item, _join(prefix, str(key))))
            elif not (isinstance(item, dict) and not item):
                out[_join(prefix, str(key))] = item
        return out
    return {prefix: value} if prefix else {}


def _changes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key: {"from": a.get(key), "to": b.get(key)}
        for key in dict.fromkeys([*a, *b])
        if not _same(a.get(key), b.get(key))
    }


def _collect(
    document: dict[str, Any], shape: GraphShape
) -> tuple[dict[str, tuple[str, dict[str, Any]]], list[EdgeKey]]:
    """Every node by id (with the graph holding it) and every edge, in document order."""
    nodes: dict[str, tuple[str, dict[str, Any]]] = {}
    for visit in walk_nodes(document, shape):
        if isinstance(visit.node.get("id"), str):
            # A duplicate id (invalid draft): the first wins.
            nodes.setdefault(visit.node["id"], (visit.graph.label, visit.node))
    edges: list[EdgeKey] = []
    for graph in walk_graphs(document, shape):
        links = graph.graph.get("edges")
        for edge in links if isinstance(links, list) else []:
            if isinstance(edge, dict):
                edges.append((graph.label, str(edge.get("from")), str(edge.get("port", "out")), str(edge.get("to"))))
    return nodes, list(dict.fromkeys(edges))


def _edge(key: EdgeKey) -> dict[str, str]:
    graph, source, port, target = key
    return {"graph": graph, "from": source, "port": port, "to": target}


def _node_fields(where: str, node: dict[str, Any], bodies: tuple[str, ...]) -> dict[str, Any]:
    fields = _flatten({k: v for k, v in node.items() if k != "id" and k not in bodies}, "")
    fields["parent"] = where
    return fields


def _nodes(
    a: dict[str, tuple[str, dict[str, Any]]], b: dict[str, tuple[str, dict[str, Any]]], bodies: tuple[str, ...]
) -> dict[str, Any]:
    changed = []
    for node_id in b:
        if node_id in a:
            fields = _changes(_node_fields(*a[node_id], bodies), _node_fields(*b[node_id], bodies))
            if fields:
                changed.append({"id": node_id, "fields": fields})
    return {"added": [n for n in b if n not in a], "removed": [n for n in a if n not in b], "changed": changed}


def _inputs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    changed = []
    for name in b:
        if name in a:
            fields = _changes(_flatten(_object(a[name]), ""), _flatten(_object(b[name]), ""))
            if fields:
                changed.append({"name": name, "fields": fields})
    return {"added": [n for n in b if n not in a], "removed": [n for n in a if n not in b], "changed": changed}


def _values(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    changed = [
        {"name": name, "from": a[name], "to": b[name]} for name in b if name in a and not _same(a[name], b[name])
    ]
    return {"added": [n for n in b if n not in a], "removed": [n for n in a if n not in b], "changed": changed}
