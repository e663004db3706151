"""Replacing the flow's graph with another document's: an AI proposal accepted, a version rolled back.

One command, so the designer undoes the whole replacement with one Ctrl+Z. Nodes are matched by
id for the events: a node in both documents is "changed" (the canvas redraws it in place), the
others are added or removed by the index rebuild.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from shared.flow import walk_graphs, walk_nodes
from studio.model._edit import CommandError, Edit

GRAPH_KEYS = ("nodes", "edges", "inputs", "outputs", "variables")
"""What an accepted proposal replaces; the flow's name, settings and notes stay."""

_KEPT = frozenset({"schema"})


def _ids(document: Mapping[str, Any], edit: Edit) -> set[str]:
    return {str(v.node["id"]) for v in walk_nodes(document, edit.shape) if isinstance(v.node.get("id"), str)}


def _graphs(document: Mapping[str, Any], edit: Edit) -> set[str]:
    return {g.label for g in walk_graphs(document, edit.shape)}


def replace_flow(edit: Edit, *, document: Mapping[str, Any], whole: bool = False) -> None:
    """Make the flow's nodes, edges, inputs, outputs and variables those of `document` (with
    `whole`, every top-level part but the format tag: a version rolled back)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("nodes", []), list):
        raise CommandError("the replacement is not a flow document (an object with a 'nodes' list)")
    keys = [k for k in dict.fromkeys([*edit.raw, *document]) if k not in _KEPT] if whole else list(GRAPH_KEYS)
    old_ids, old_graphs = _ids(edit.raw, edit), _graphs(edit.raw, edit)
    if not _rewrite_keys(edit, keys, document):
        return
    edit.structure_changed()
    for node_id in old_ids & _ids(edit.raw, edit):
        edit.touch(node=node_id)
    for label in old_graphs | _graphs(edit.raw, edit):
        edit.edges_changed(label)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _rewrite_keys(edit: Edit, keys: list[str], document: Mapping[str, Any]) -> bool:
    """Set `keys` of the flow to `document`'s (deleting those it lacks); False when all are equal.

    The keys from the first one that changes onwards are taken out and put back in order, so
    the file keeps its key order and an undo gives back the same text, not just the same data.
    """
    order = list(edit.raw)
    differs = [
        position
        for position, key in enumerate(order)
        if key in keys and (key not in document or not _same(edit.raw[key], document[key]))
    ]
    new_keys = [k for k in keys if k in document and k not in edit.raw]
    if not differs and not new_keys:
        return False
    tail = order[min(differs) if differs else len(order) :]
    kept = {key: edit.raw[key] for key in tail}
    for key in reversed(tail):
        edit.delete(edit.raw, key)
    for key in [*tail, *new_keys]:
        if key in keys and key in document:
            edit.set(edit.raw, key, copy.deepcopy(document[key]))
        elif key not in keys:
            edit.set(edit.raw, key, kept[key])
    return True
