"""Positions only: move, align, distribute and the layered auto-layout of a structured flow.

A node's position is `ui.x` / `ui.y` (top-left, in the coordinates of the graph it sits in; a
container's body has its own). Sizes are the canvas's nominal node size: the model does not
know fonts, and alignment by nominal size is what a designer expects of a uniform node shape.
An expanded container is as large as the bodies the canvas draws inside it (`node_size`, the
canvas's rule), so the auto-layout leaves it the room it takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.flow import TOP_GRAPH
from studio.model._edit import CommandError, Edit
from studio.model._index import NodeRef

NODE_WIDTH = 180.0
NODE_HEIGHT = 60.0
GAP_X = 60.0
GAP_Y = 60.0
HEADER = NODE_HEIGHT
"""A container's header is a node's height: collapsed, it is a node like any other."""
BODY_PAD = 24.0
"""Space around a body's nodes, and between a container's edge and its bodies."""
BODY_LABEL = 20.0
"""The body's name above its nodes."""


def position(node: Mapping[str, Any]) -> tuple[float, float]:
    """A node's (x, y), (0, 0) when it has none."""
    ui = node.get("ui")
    if not isinstance(ui, dict):
        return 0.0, 0.0
    x, y = ui.get("x", 0), ui.get("y", 0)
    return (float(x) if isinstance(x, int | float) else 0.0, float(y) if isinstance(y, int | float) else 0.0)


def place(edit: Edit, ref: NodeRef, x: float, y: float) -> None:
    """Put a node at (x, y)."""
    node_id = str(ref.id)
    ui = ref.node.get("ui")
    if not isinstance(ui, dict):
        edit.set(ref.node, "ui", {"x": x, "y": y}, node=node_id)
        return
    edit.set(ui, "x", x, node=node_id)
    edit.set(ui, "y", y, node=node_id)


def move_nodes(
    edit: Edit, *, positions: Mapping[str, Any] | None = None, ids: Any = None, dx: float = 0, dy: float = 0
) -> None:
    """Move nodes to absolute `positions` ({id: [x, y]}), or the nodes `ids` by (dx, dy)."""
    if positions:
        for node_id, (x, y) in positions.items():
            place(edit, edit.node(node_id), float(x), float(y))
        return
    for ref in edit.nodes(ids):
        x, y = position(ref.node)
        place(edit, ref, x + dx, y + dy)


_ALIGN = {
    "left": (0, min, 0.0),
    "right": (0, max, 0.0),
    "top": (1, min, 0.0),
    "bottom": (1, max, 0.0),
    "hcenter": (0, None, NODE_WIDTH / 2),
    "vcenter": (1, None, NODE_HEIGHT / 2),
}


def align(edit: Edit, *, ids: Any, edge: str) -> None:
    """Line nodes up on their `left`, `right`, `top`, `bottom` edge or their `hcenter` / `vcenter`."""
    if edge not in _ALIGN:
        raise CommandError(f"unknown alignment '{edge}'; use one of: {', '.join(_ALIGN)}")
    axis, pick, _ = _ALIGN[edge]
    refs = edit.nodes(ids)
    values = [position(ref.node)[axis] for ref in refs]
    target = pick(values) if pick is not None else sum(values) / len(values)
    for ref in refs:
        x, y = position(ref.node)
        place(edit, ref, target if axis == 0 else x, target if axis == 1 else y)


def distribute(edit: Edit, *, ids: Any, axis: str = "horizontal") -> None:
    """Space three or more nodes evenly between the first and the last along `axis`."""
    if axis not in ("horizontal", "vertical"):
        raise CommandError("axis is 'horizontal' or 'vertical'")
    index = 0 if axis == "horizontal" else 1
    refs = sorted(edit.nodes(ids), key=lambda ref: position(ref.node)[index])
    if len(refs) < 3:
        return
    first, last = position(refs[0].node)[index], position(refs[-1].node)[index]
    step = (last - first) / (len(refs) - 1)
    for n, ref in enumerate(refs):
        x, y = position(ref.node)
        value = first + n * step
        place(edit, ref, value if index == 0 else x, value if index == 1 else y)


def layers(node_ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering of a DAG: a node sits one layer below its deepest predecessor."""
    preds: dict[str, list[str]] = {n: [] for n in node_ids}
    succs: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        if source in preds and target in preds:
            preds[target].append(source)
            succs[source].append(target)
    indegree = {n: len(p) for n, p in preds.items()}
    queue = [n for n in node_ids if indegree[n] == 0]
    layer = dict.fromkeys(queue, 0)
    for current in queue:  # grows while iterating: Kahn's order
        for nxt in succs[current]:
            layer[nxt] = max(layer.get(nxt, 0), layer[current] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    for node_id in node_ids:  # a cycle in a broken draft: put what is left at the end
        layer.setdefault(node_id, max(layer.values(), default=-1) + 1)
    return layer


def _bodies(edit: Edit) -> dict[str, list[str]]:
    """Container id -> the labels of its bodies' graphs (`each.body`, `guard.catch`...): those
    its step declares, present in the file or not (the canvas draws an empty one), else those
    the file has."""
    found: dict[str, list[str]] = {}
    for label in edit.index.graphs:
        if label != TOP_GRAPH:
            found.setdefault(label.rpartition(".")[0], []).append(label)
    registry = edit.registry
    for node_id, ref in edit.index.nodes.items():
        step_type = ref.node.get("type")
        if isinstance(step_type, str) and step_type in registry:
            declared = registry.get(step_type).bodies
            if declared:
                found[node_id] = [f"{node_id}.{name}" for name in declared]
    return found


EMPTY_BODY = (NODE_WIDTH + 2 * BODY_PAD, NODE_HEIGHT + BODY_LABEL)
"""An empty body on the canvas: room for one node and the body's name."""


def _body_extent(edit: Edit, graph: dict[str, Any] | None, bodies: dict[str, list[str]]) -> tuple[float, float]:
    """(width, height) of a body as the canvas draws it: its nodes' area, padded, with its label."""
    nodes = [n for n in (graph or {}).get("nodes") or () if isinstance(n, dict)]
    if not nodes:
        return EMPTY_BODY
    left, top, right, bottom = 0.0, 0.0, NODE_WIDTH, NODE_HEIGHT  # the body's origin stays inside it
    for node in nodes:
        x, y = position(node)
        width, height = node_size(edit, node, bodies)
        left, top, right, bottom = min(left, x), min(top, y), max(right, x + width), max(bottom, y + height)
    return right - left + 2 * BODY_PAD, bottom - top + 2 * BODY_PAD + BODY_LABEL


def node_size(edit: Edit, node: Mapping[str, Any], bodies: dict[str, list[str]] | None = None) -> tuple[float, float]:
    """A node's (width, height) on the canvas: nominal, or for an expanded container the header
    and its bodies stacked under it (the canvas's `ContainerItem.relayout`)."""
    if bodies is None:
        bodies = _bodies(edit)
    node_id = node.get("id")
    ui = node.get("ui")
    labels = bodies.get(node_id) if isinstance(node_id, str) else None
    if not labels or (isinstance(ui, dict) and ui.get("collapsed")):
        return NODE_WIDTH, NODE_HEIGHT
    width, height = NODE_WIDTH, HEADER + BODY_PAD
    for label in labels:
        body_width, body_height = _body_extent(edit, edit.index.graphs.get(label), bodies)
        width = max(width, body_width + 2 * BODY_PAD)
        height += body_height + BODY_PAD / 2
    return width, height + BODY_PAD / 2


def _layout_graph(edit: Edit, graph: dict[str, Any], bodies: dict[str, list[str]]) -> None:
    refs = [
        edit.index.nodes[n["id"]] for n in graph.get("nodes") or () if isinstance(n, dict) and n.get("id") in edit.index
    ]
    ids = [str(ref.id) for ref in refs]
    sizes = {str(ref.id): node_size(edit, ref.node, bodies) for ref in refs}
    raw_edges = graph.get("edges") if isinstance(graph.get("edges"), list) else []
    pairs = [(e.get("from"), e.get("to")) for e in raw_edges or () if isinstance(e, dict)]
    layer = layers(ids, [(s, t) for s, t in pairs if isinstance(s, str) and isinstance(t, str)])
    rows: dict[int, list[str]] = {}
    for node_id in ids:
        rows.setdefault(layer[node_id], []).append(node_id)
    preds: dict[str, list[str]] = {}
    for source, target in pairs:
        if isinstance(source, str) and isinstance(target, str):
            preds.setdefault(target, []).append(source)
    order: dict[str, float] = {}
    y = 0.0
    for depth in sorted(rows):
        row = rows[depth]
        # One barycentre pass: a node sits under the mean slot of its predecessors, which keeps
        # branches apart and straight without a full crossing minimisation.
        row.sort(key=lambda n: sum(order.get(p, 0.0) for p in preds.get(n, ())) / max(1, len(preds.get(n, ()))))
        # Centred on x = 0 as a whole, each node as wide as it is drawn (containers are wider).
        x = -(sum(sizes[n][0] for n in row) + GAP_X * (len(row) - 1)) / 2
        for slot, node_id in enumerate(row):
            order[node_id] = float(slot)
            place(edit, edit.index.nodes[node_id], round(x, 1), round(y, 1))
            x += sizes[node_id][0] + GAP_X
        y += max(sizes[n][1] for n in row) + GAP_Y


def auto_layout(edit: Edit, *, graph: str | None = None) -> None:
    """Lay out one graph (or every graph) in layers, top to bottom, following the edges; the
    bodies first, so each container is laid out at the size its bodies give it."""
    bodies = _bodies(edit)
    labels = [graph or TOP_GRAPH] if graph is not None else list(edit.index.graphs)
    # The index lists graphs outer before inner: reversed, a body comes before its container.
    for label in reversed(labels):
        _layout_graph(edit, edit.graph(label), bodies)
