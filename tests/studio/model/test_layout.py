"""The auto-layout gives an expanded container the room its bodies take on the canvas."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from studio.model import FlowDocument
from studio.model._layout import BODY_PAD, NODE_HEIGHT, NODE_WIDTH, node_size


def _flow(collapsed: bool = False) -> FlowDocument:
    body = [{"id": f"b{n}", "type": "core.log", "params": {"message": "x"}} for n in range(4)]
    each = {
        "id": "each",
        "type": "control.foreach",
        "params": {"items": [1, 2]},
        "body": {"nodes": body, "edges": [{"from": f"b{n}", "to": f"b{n + 1}"} for n in range(3)]},
    }
    if collapsed:
        each["ui"] = {"collapsed": True}
    nodes = [
        {"id": "start", "type": "core.log", "params": {"message": "s"}},
        each,
        {"id": "side", "type": "core.log", "params": {"message": "s"}},
        {"id": "after", "type": "core.log", "params": {"message": "a"}},
    ]
    edges = [{"from": "start", "to": "each"}, {"from": "start", "to": "side"}, {"from": "each", "to": "after"}]
    return FlowDocument.from_text(json.dumps({"schema": "rpa-flow/1", "name": "f", "nodes": nodes, "edges": edges}))


def test_the_node_after_an_expanded_container_sits_below_its_bodies() -> None:
    doc = _flow()
    doc.execute("auto_layout")
    raw = {ref.id: ref.node for ref in doc.index.refs if ref.graph_label == "$"}
    each = raw["each"]
    width, height = node_size_of(doc, each)
    # four chained nodes in the body: the container is taller than four rows of nodes
    assert height > 4 * NODE_HEIGHT + 3 * BODY_PAD
    assert raw["after"]["ui"]["y"] >= each["ui"]["y"] + height
    # the sibling in the container's row does not overlap it
    side, box = raw["side"]["ui"], each["ui"]
    assert side["x"] >= box["x"] + width or side["x"] + NODE_WIDTH <= box["x"]


def test_a_collapsed_container_is_laid_out_as_a_node() -> None:
    doc = _flow(collapsed=True)
    doc.execute("auto_layout")
    raw = {ref.id: ref.node for ref in doc.index.refs if ref.graph_label == "$"}
    assert node_size_of(doc, raw["each"]) == (NODE_WIDTH, NODE_HEIGHT)
    assert raw["after"]["ui"]["y"] - raw["each"]["ui"]["y"] == NODE_HEIGHT + 60.0


def node_size_of(doc: FlowDocument, node: dict[str, Any]) -> tuple[float, float]:
    """`node_size` reads only the document's index and step registry."""
    return node_size(SimpleNamespace(index=doc.index, registry=doc.registry), node)  # type: ignore[arg-type]
