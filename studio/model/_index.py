"""Where each node of a raw flow document sits: its graph, its container, its JSON path.

The document is kept as raw JSON (so unknown parts survive a save); the index is rebuilt from it
after each edit with the one walk over nested graphs (`shared.flow.walk_nodes`), so it never
disagrees with the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.flow import TOP_GRAPH, GraphShape, walk_nodes

Parts = tuple[str | int, ...]


@dataclass(slots=True)
class NodeRef:
    """One node object of the document and where it sits (treat as read-only; not frozen
    because a frozen dataclass is slower to build, and the index builds thousands)."""

    id: str | None
    node: dict[str, Any]
    graph: dict[str, Any]
    graph_label: str
    container: str | None
    body: str | None
    parts: Parts


class NodeIndex:
    """Node ids to their place in the document; graphs by label."""

    def __init__(self, document: dict[str, Any], shape: GraphShape) -> None:
        self.nodes: dict[str, NodeRef] = {}
        self.by_parts: dict[Parts, NodeRef] = {}
        self.graphs: dict[str, dict[str, Any]] = {TOP_GRAPH: document}
        self.refs: list[NodeRef] = []
        labels: dict[int, str] = {}
        bodies_of = shape.bodies_of
        for node, position, graph in walk_nodes(document, shape):
            # Keyed by the graph's own dict, which lives in the document for the whole walk.
            label = labels.get(id(graph.graph))
            if label is None:
                label = labels[id(graph.graph)] = graph.label
            node_id = node.get("id")
            ref = NodeRef(
                node_id if isinstance(node_id, str) else None,
                node,
                graph.graph,
                label,
                graph.container,
                graph.body,
                (*graph.parts, "nodes", position),
            )
            self.refs.append(ref)
            self.by_parts[ref.parts] = ref
            if ref.id is not None:
                self.nodes.setdefault(ref.id, ref)
                for name in bodies_of(node.get("type")):
                    body = node.get(name)
                    if isinstance(body, dict):
                        self.graphs[f"{ref.id}.{name}"] = body

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    def __len__(self) -> int:
        return len(self.refs)

    def node_at(self, parts: Parts) -> NodeRef | None:
        """The innermost node whose JSON path is a prefix of `parts`."""
        for end in range(len(parts), 1, -1):
            ref = self.by_parts.get(parts[:end])
            if ref is not None:
                return ref
        return None

    def ancestors(self, node_id: str) -> list[str]:
        """The containers holding `node_id`, innermost first."""
        found: list[str] = []
        ref = self.nodes.get(node_id)
        while ref is not None and ref.container is not None:
            found.append(ref.container)
            ref = self.nodes.get(ref.container)
        return found

    def graph_parts(self, label: str) -> Parts | None:
        """The JSON path parts of graph `label` (None when unknown)."""
        if label == TOP_GRAPH:
            return ()
        container, _, body = label.rpartition(".")
        ref = self.nodes.get(container)
        return None if ref is None else (*ref.parts, body)

    def append(self, label: str, node: dict[str, Any]) -> bool:
        """Index a node just appended to graph `label` (one without nested graphs).

        Appending shifts no other node, so this is exact and avoids a rebuild; False when the
        graph is unknown (rebuild instead).
        """
        graph = self.graphs.get(label)
        parts = self.graph_parts(label)
        nodes = graph.get("nodes") if graph is not None else None
        if graph is None or parts is None or not isinstance(nodes, list) or not nodes or nodes[-1] is not node:
            return False
        container, _, body = label.rpartition(".") if label != TOP_GRAPH else (None, "", None)
        ref = NodeRef(
            node.get("id"), node, graph, label, container or None, body or None, (*parts, "nodes", len(nodes) - 1)
        )
        # Document order: after the last node inside this graph (its subtree included).
        width = len(parts)
        position = len(self.refs)
        if width:
            # The first node of a body: where it goes among sibling bodies is the walk's business.
            found = (n + 1 for n in range(len(self.refs) - 1, -1, -1) if self.refs[n].parts[:width] == parts)
            position = next(found, -1)
            if position < 0:
                return False
        self.refs.insert(position, ref)
        self.by_parts[ref.parts] = ref
        if ref.id is not None:
            self.nodes.setdefault(ref.id, ref)
        return True

    def drop_last(self, label: str, node: dict[str, Any]) -> bool:
        """Forget a node that was the last of graph `label` and was just removed from it."""
        parts = self.graph_parts(label)
        graph = self.graphs.get(label)
        if parts is None or graph is None:
            return False
        key = (*parts, "nodes", len(graph.get("nodes") or ()))
        ref = self.by_parts.get(key)
        if ref is None or ref.node is not node:
            return False
        del self.by_parts[key]
        self.refs.remove(ref)
        if ref.id is not None and self.nodes.get(ref.id) is ref:
            del self.nodes[ref.id]
        return True
