"""What changed between two flow documents, shaped for the diff view (no Qt, no I/O).

The comparison itself is `shared.flow.diff_documents`, the one the orchestrator's
`GET /workflows/{id}/diff` answers with, so the studio and the server never disagree on what
"changed" means. This module only reads that result the way a designer looks at it: each node
gets one status (`added`, `removed`, `changed`, or `moved` when only its place on the canvas
changed), each changed field a kind (a param, its label, a setting, its type, the container
holding it, or layout), and each node the path of containers it sits in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.flow import TOP_GRAPH, GraphShape, diff_documents, walk_graphs, walk_nodes

NodeStatus = Literal["added", "removed", "changed", "moved"]
FieldKind = Literal["param", "label", "setting", "type", "parent", "layout", "other"]

_LABEL_FIELDS = frozenset({"name", "description"})
_SETTING_FIELDS = frozenset({"retry", "timeout_s", "on_error", "disabled", "set"})

__all__ = ["EdgeChange", "EntryChanges", "FieldChange", "FlowDiff", "NodeChange", "diff_flows", "ghost_document"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field of a node: its dotted path (`params.url`), kind, and both values."""

    path: str
    kind: FieldKind
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class NodeChange:
    """A node that differs; `graph` and `path` are where it is (where it was, if removed)."""

    id: str
    status: NodeStatus
    graph: str
    path: tuple[str, ...]
    """The ids of the containers holding the node, outermost first (empty at the top)."""
    node: dict[str, Any]
    """The node as it is after (as it was, if removed)."""
    fields: tuple[FieldChange, ...] = ()

    @property
    def params(self) -> tuple[FieldChange, ...]:
        """The changed params, for the side-by-side table."""
        return tuple(f for f in self.fields if f.kind == "param")


@dataclass(frozen=True, slots=True)
class EdgeChange:
    """An edge added or removed, in graph `graph`."""

    graph: str
    source: str
    port: str
    target: str


@dataclass(frozen=True, slots=True)
class EntryChanges:
    """Inputs, outputs or variables: names added, removed, and changed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class FlowDiff:
    """Every difference between two documents; `raw` is the shared diff it was read from."""

    nodes: dict[str, NodeChange]
    edges_added: tuple[EdgeChange, ...]
    edges_removed: tuple[EdgeChange, ...]
    inputs: EntryChanges
    outputs: EntryChanges
    variables: EntryChanges
    document: dict[str, tuple[Any, Any]]
    settings: dict[str, tuple[Any, Any]]
    raw: dict[str, Any] = field(repr=False)

    def ids(self, status: NodeStatus) -> tuple[str, ...]:
        """The ids of the nodes with `status`, in document order."""
        return tuple(i for i, change in self.nodes.items() if change.status == status)

    @property
    def identical(self) -> bool:
        """Nothing differs at all, layout included."""
        return bool(self.raw["identical"])

    @property
    def layout_only(self) -> bool:
        """Only nodes' places on the canvas differ: the flow runs the same."""
        return not self.identical and not self.logic_changed

    @property
    def logic_changed(self) -> bool:
        """Something that changes what the flow does differs."""
        return bool(
            any(c.status != "moved" for c in self.nodes.values())
            or self.edges_added
            or self.edges_removed
            or self.inputs
            or self.outputs
            or self.variables
            or self.document
            or self.settings
        )


def diff_flows(before: Any, after: Any, shape: GraphShape | None = None) -> FlowDiff:
    """What changed from `before` to `after` (flow documents as JSON, valid or not).

    Args:
        before: the older document (a version).
        after: the newer one (a later version, or the draft).
        shape: where containers hold nested graphs (default: the installed steps).

    Example:
        >>> diff = diff_flows(version_1, draft)
        >>> diff.ids("changed"), [f.path for f in diff.nodes["fetch"].params]
    """
    shape = shape or GraphShape()
    raw = diff_documents(before, after, shape)
    where_before, where_after = _places(before, shape), _places(after, shape)
    nodes: dict[str, NodeChange] = {}
    for node_id in raw["nodes"]["removed"]:
        nodes[node_id] = _change(node_id, "removed", where_before)
    for node_id in raw["nodes"]["added"]:
        nodes[node_id] = _change(node_id, "added", where_after)
    for entry in raw["nodes"]["changed"]:
        fields = tuple(
            FieldChange(path, _kind(path), values["from"], values["to"]) for path, values in entry["fields"].items()
        )
        status: NodeStatus = "moved" if all(f.kind == "layout" for f in fields) else "changed"
        nodes[entry["id"]] = _change(entry["id"], status, where_after, fields)
    return FlowDiff(
        nodes=nodes,
        edges_added=tuple(_edge(e) for e in raw["edges"]["added"]),
        edges_removed=tuple(_edge(e) for e in raw["edges"]["removed"]),
        inputs=_entries(raw["inputs"]),
        outputs=_entries(raw["outputs"]),
        variables=_entries(raw["variables"]),
        document={k: (v["from"], v["to"]) for k, v in raw["document"].items()},
        settings={k: (v["from"], v["to"]) for k, v in raw["settings"].items()},
        raw=raw,
    )


_Places = dict[str, tuple[str, dict[str, Any]]]


def _places(document: Any, shape: GraphShape) -> _Places:
    """Node id -> (the label of the graph holding it, the node); the first of a duplicate id wins."""
    places: _Places = {}
    for visit in walk_nodes(document if isinstance(document, dict) else {}, shape):
        node_id = visit.node.get("id")
        if isinstance(node_id, str):
            places.setdefault(node_id, (visit.graph.label, visit.node))
    return places


def _path(graph: str, places: _Places) -> tuple[str, ...]:
    path: list[str] = []
    while graph != TOP_GRAPH and len(path) <= len(places):
        container = graph.rsplit(".", 1)[0]
        path.insert(0, container)
        graph = places[container][0] if container in places else TOP_GRAPH
    return tuple(path)


def _change(node_id: str, status: NodeStatus, places: _Places, fields: tuple[FieldChange, ...] = ()) -> NodeChange:
    graph, node = places[node_id]
    return NodeChange(node_id, status, graph, _path(graph, places), node, fields)


def _kind(path: str) -> FieldKind:
    head = path.split(".", 1)[0].split("[", 1)[0]
    if head == "params":
        return "param"
    if head == "ui":
        return "layout"
    if head in _LABEL_FIELDS:
        return "label"
    if head in _SETTING_FIELDS:
        return "setting"
    if head == "type":
        return "type"
    if head == "parent":
        return "parent"
    return "other"


def _edge(edge: dict[str, str]) -> EdgeChange:
    return EdgeChange(edge["graph"], edge["from"], edge["port"], edge["to"])


def _entries(part: dict[str, Any]) -> EntryChanges:
    return EntryChanges(
        added=tuple(part["added"]),
        removed=tuple(part["removed"]),
        changed=tuple(c["name"] for c in part["changed"]),
    )


def ghost_document(before: Any, after: Any, diff: FlowDiff, shape: GraphShape | None = None) -> dict[str, Any]:
    """`after` with what `before` had and `after` lost put back, to draw both on one canvas.

    A removed node goes back into the graph it was in (the top graph when that graph is gone
    too) with its removed edges; a removed container brings its removed contents along, without
    the nodes that still exist elsewhere in `after` (so no id is there twice).
    """
    shape = shape or GraphShape()
    merged = copy.deepcopy(after) if isinstance(after, dict) else {}
    if not isinstance(merged.get("nodes"), list):
        merged["nodes"] = []
    removed = set(diff.ids("removed"))
    places = _places(before, shape)
    present = set(_places(merged, shape))
    for node_id in diff.ids("removed"):
        graph_label, node = places[node_id]
        if set(_path(graph_label, places)) & removed:
            continue  # it comes back inside its removed container
        ghost = _without(copy.deepcopy(node), present, shape)
        graphs = {g.label: g.graph for g in walk_graphs(merged, shape)}
        target = graphs.get(graph_label, merged)
        if not isinstance(target.get("nodes"), list):
            target["nodes"] = []
        target["nodes"].append(ghost)
        present |= {str(v.node.get("id")) for v in walk_nodes({"nodes": [ghost]}, shape)}
    graphs = {g.label: g.graph for g in walk_graphs(merged, shape)}
    for edge in diff.edges_removed:
        graph = graphs.get(edge.graph)
        if graph is not None and {edge.source, edge.target} <= present:
            edges = graph.get("edges")
            if not isinstance(edges, list):
                graph["edges"] = edges = []
            edges.append({"from": edge.source, "port": edge.port, "to": edge.target})
    return merged


def _without(node: dict[str, Any], present: set[str], shape: GraphShape) -> dict[str, Any]:
    """`node` without the nested nodes whose ids are in `present` (and their edges)."""
    for name in shape.body_names:
        body = node.get(name)
        if not isinstance(body, dict) or not isinstance(body.get("nodes"), list):
            continue
        body["nodes"] = [
            _without(child, present, shape)
            for child in body["nodes"]
            if not (isinstance(child, dict) and child.get("id") in present)
        ]
        kept = {child.get("id") for child in body["nodes"] if isinstance(child, dict)}
        if isinstance(body.get("edges"), list):
            body["edges"] = [e for e in body["edges"] if isinstance(e, dict) and {e.get("from"), e.get("to")} <= kept]
    return node
