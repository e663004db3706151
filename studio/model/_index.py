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


@dataclass(frozen=True, slots=True)
class NodeRef:
    """One node object of the document and where it sits."""

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
        for visit in walk_nodes(document, shape):
            node_id = visit.node.get("id")
            graph = visit.graph
            ref = NodeRef(
                node_id if isinstance(node_id, str) else None,
                visit.node,
                graph.graph,
                graph.label,
                graph.container,
                graph.body,
                visit.parts,
            )
            self.refs.append(ref)
            self.by_parts[ref.parts] = ref
            if ref.id is not None:
                self.nodes.setdefault(ref.id, ref)
                for name in shape.bodies_of(visit.node.get("type")):
                    body = visit.node.get(name)
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
