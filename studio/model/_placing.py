"""Positions for the nodes of a flow that came without them (an AI proposal, a hand-written file),
so the canvas and the diff view do not stack them all at (0, 0).

A graph none of whose nodes has a position is laid out whole (`auto_layout`); in a graph where
some have one, each node without goes below the first of its predecessors that has one (else
below the lowest node). Nodes that have a position keep it, so a diff shows them unmoved.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.steps import StepRegistry
from studio.model._layout import GAP_Y, NODE_HEIGHT

__all__ = ["with_positions"]


def _has_position(node: Any) -> bool:
    ui = node.get("ui") if isinstance(node, dict) else None
    return isinstance(ui, dict) and isinstance(ui.get("x"), int | float) and isinstance(ui.get("y"), int | float)


def with_positions(flow: dict[str, Any], registry: StepRegistry | None = None) -> dict[str, Any]:
    """A copy of `flow` where every node has a position (the input is not changed)."""
    from studio.model._document import FlowDocument  # the document module imports the commands

    document = FlowDocument(copy.deepcopy(flow), registry=registry)
    for label, graph in list(document.index.graphs.items()):
        nodes = [n for n in graph.get("nodes") or () if isinstance(n, dict) and isinstance(n.get("id"), str)]
        if not nodes or all(_has_position(n) for n in nodes):
            continue
        if not any(_has_position(n) for n in nodes):
            document.execute("auto_layout", graph=label)
            continue
        _place_missing(nodes, graph.get("edges") or [])
    return document.raw


def _place_missing(nodes: list[dict[str, Any]], edges: list[Any]) -> None:
    by_id = {n["id"]: n for n in nodes}
    sources: dict[str, list[str]] = {}
    for edge in edges:
        if isinstance(edge, dict):
            sources.setdefault(str(edge.get("to")), []).append(str(edge.get("from")))
    step = NODE_HEIGHT + GAP_Y
    for node in nodes:  # document order: a predecessor listed first is placed first
        if _has_position(node):
            continue
        placed = [by_id[s] for s in sources.get(node["id"], ()) if s in by_id and _has_position(by_id[s])]
        if placed:
            x, y = placed[0]["ui"]["x"], placed[0]["ui"]["y"] + step
        else:
            positioned = [n["ui"] for n in nodes if _has_position(n)]
            x, y = min(p["x"] for p in positioned), max(p["y"] for p in positioned) + step
        while any(_has_position(n) and (n["ui"]["x"], n["ui"]["y"]) == (x, y) for n in nodes):
            y += step
        ui = node.get("ui")
        node["ui"] = {**(ui if isinstance(ui, dict) else {}), "x": x, "y": y}
