"""Walk the nested graphs of a flow document: the one place that knows where graphs nest.

Containers hold nested graphs under the body names their step definition declares
(`control.try` declares `body`, `catch` and `finally`; a loop declares `body`). The walker reads
those names from the step catalogue, so a container type that declares a new body name is walked
without a change here or in any caller. A node whose type the catalogue does not know (a plugin
installed on an agent only, or a typo in a draft) is searched under every body name any step
declares, so nothing nested in it is ever missed.

The walk works on raw documents (drafts may be invalid): anything that is not an object with a
`nodes` list is passed over, never an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from shared.steps import StepRegistry

TOP_GRAPH = "$"
"""The label of a document's top graph (nested graphs are `<container id>.<body name>`)."""


class GraphVisit(NamedTuple):
    """One graph of a document: the top graph or a container's body."""

    graph: dict[str, Any]
    parts: tuple[str | int, ...] = ()
    """JSON path parts from the document to this graph (empty for the top graph)."""
    container: str | None = None
    """The id of the node holding this graph (None for the top graph, or an id-less node)."""
    body: str | None = None
    """The body name this graph sits under (None for the top graph)."""

    @property
    def label(self) -> str:
        """`$` for the top graph, else `<container id>.<body name>`."""
        return TOP_GRAPH if self.body is None else f"{self.container}.{self.body}"


class NodeVisit(NamedTuple):
    """One node object of a document, with where it sits."""

    node: dict[str, Any]
    position: int
    """The node's index in its graph's `nodes` list."""
    graph: GraphVisit
    """The graph holding the node."""

    @property
    def parts(self) -> tuple[str | int, ...]:
        """JSON path parts from the document to this node (`("nodes", 0, "body", "nodes", 2)`)."""
        return (*self.graph.parts, "nodes", self.position)


class GraphShape:
    """Which body names a node of each step type holds, read from a step catalogue once."""

    def __init__(self, registry: StepRegistry | None = None) -> None:
        if registry is None:
            from shared.steps import StepRegistry

            registry = StepRegistry.default()
        self._bodies = {definition.name: definition.bodies for definition in registry}
        names: dict[str, None] = {}
        for bodies in self._bodies.values():
            names.update(dict.fromkeys(bodies))
        self.body_names: tuple[str, ...] = tuple(names)
        """Every body name some step declares, in the order the catalogue first declares them."""

    def bodies_of(self, step_type: Any) -> tuple[str, ...]:
        """The body names a node of `step_type` may hold (every known name for an unknown type)."""
        if isinstance(step_type, str) and step_type in self._bodies:
            return self._bodies[step_type]
        return self.body_names


def _shape(shape: GraphShape | StepRegistry | None) -> GraphShape:
    return shape if isinstance(shape, GraphShape) else GraphShape(shape)


_NO_BODIES: list[GraphVisit] = []


def _nested(visit: GraphVisit, shape: GraphShape) -> Iterator[tuple[NodeVisit, list[GraphVisit]]]:
    # Tuples and no per-node path building: dispatch walks every flow it hands out.
    nodes = visit.graph.get("nodes")
    if not isinstance(nodes, list):
        return
    bodies_of = shape.bodies_of
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        names = bodies_of(node.get("type"))
        bodies = _NO_BODIES
        if names:
            node_id = node.get("id")
            bodies = [
                GraphVisit(
                    node[name],
                    (*visit.parts, "nodes", index, name),
                    node_id if isinstance(node_id, str) else None,
                    name,
                )
                for name in names
                if isinstance(node.get(name), dict)
            ]
        yield NodeVisit(node, index, visit), bodies


def walk_graphs(document: Any, shape: GraphShape | StepRegistry | None = None) -> Iterator[GraphVisit]:
    """Every graph of `document`, the top graph first, each before the graphs nested in it.

    Args:
        document: a flow document (a parsed JSON object; anything else has no graphs).
        shape: the body names per step type, or the step catalogue to read them from
            (default: the built-in steps plus installed plugins).
    """
    if not isinstance(document, dict):
        return
    resolved = _shape(shape)
    pending = [GraphVisit(document)]
    while pending:
        visit = pending.pop()
        yield visit
        nested = [graph for _, bodies in _nested(visit, resolved) for graph in bodies]
        pending.extend(reversed(nested))


def walk_nodes(document: Any, shape: GraphShape | StepRegistry | None = None) -> Iterator[NodeVisit]:
    """Every node object of `document` in document order: a node, then what its bodies hold,
    then its next sibling.

    Args:
        document: a flow document (a parsed JSON object; anything else has no nodes).
        shape: the body names per step type, or the step catalogue to read them from
            (default: the built-in steps plus installed plugins).
    """
    if not isinstance(document, dict):
        return
    resolved = _shape(shape)
    # An explicit stack, not recursion: a deeply nested draft must not exhaust the call stack.
    stack = [_nested(GraphVisit(document), resolved)]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            continue
        node, bodies = step
        yield node
        stack.extend(_nested(body, resolved) for body in reversed(bodies))
