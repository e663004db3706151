"""Insert a chain of nodes after a node: what the recorder's "Insert" does, as one undoable edit.

The recorded nodes run one after another, so they go in as a chain: the node they follow now
leads to the first of them, and whatever followed it on its `out` port follows the last one.
Ids already taken are renamed (`click_2`) and `steps.<id>` references inside the chain follow,
as for a paste.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from studio.model._clipboard import _rename
from studio.model._edit import CommandError, Edit
from studio.model._layout import position

ROW_SPACING = 100.0
"""Vertical distance between the inserted nodes on the canvas."""


def insert_chain(edit: Edit, *, nodes: Any, after: str | None = None, graph: str | None = None) -> list[str]:
    """Insert `nodes` (a list of `{id?, type, params}`) as a chain after node `after`, or at the end of `graph`.

    Returns:
        The ids the nodes got, in order.
    """
    if not isinstance(nodes, list) or not nodes:
        raise CommandError("insert needs a non-empty list of nodes")
    if not all(isinstance(n, dict) and isinstance(n.get("type"), str) for n in nodes):
        raise CommandError("every inserted node needs a type")
    chain = copy.deepcopy(nodes)
    for number, node in enumerate(chain, 1):
        node.setdefault("id", f"{node['type'].rsplit('.', 1)[-1]}_{number}")
    pasted: dict[str, Any] = {"nodes": chain, "edges": []}
    _rename(edit, pasted)
    ids = [str(node["id"]) for node in chain]
    if after is not None:
        ref = edit.node(after)
        label, target, x, y = ref.graph_label, ref.graph, *position(ref.node)
    else:
        label = graph or "$"
        target = edit.graph(graph, create=True)
        x, y = max(
            (position(n) for n in target.get("nodes") or () if isinstance(n, dict)),
            key=lambda p: p[1],
            default=(0.0, -ROW_SPACING),
        )
    node_list = edit.list_in(target, "nodes")
    for number, node in enumerate(chain, 1):
        node["ui"] = {
            **(node.get("ui") if isinstance(node.get("ui"), dict) else {}),
            "x": x,
            "y": y + number * ROW_SPACING,
        }
        edit.append(node_list, node)
    edges = edit.list_in(target, "edges")
    followers: list[dict[str, Any]] = []
    if after is not None:
        followers = [
            e for e in edges if isinstance(e, dict) and e.get("from") == after and e.get("port", "out") == "out"
        ]
        for edge in followers:
            edit.remove(edges, edge)
        edit.append(edges, {"from": after, "to": ids[0]})
    for first, second in itertools.pairwise(ids):
        edit.append(edges, {"from": first, "to": second})
    for edge in followers:
        edit.append(edges, {"from": ids[-1], "to": edge.get("to")})
    edit.edges_changed(label)
    edit.structure_changed()
    edit.result = ids
    return ids
