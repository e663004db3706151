"""What an expression of one node can read: the names offered by completion (Qt-free).

`inputs.<name>` and `vars.<name>` of the flow, `steps.<id>.output` of the nodes that run before
this one (its predecessors by edges, and those of every container around it), `item` / `index`
inside a foreach body, `error` inside a catch body, and the filters of the expression engine
(read from its environment, never listed here).
"""

from __future__ import annotations

from typing import Any

from shared.expressions._environment import ENVIRONMENT
from studio.model import FlowDocument

SCOPE_NAMES = ("inputs", "vars", "steps", "item", "index", "error", "execution", "env", "secrets")
"""The top-level names of the expression scope (see `shared.expressions`)."""

LOOP_TYPES = {"control.foreach"}
"""Containers whose body sees `item` and `index`."""


def filter_names() -> list[str]:
    """Every filter the expression engine knows (Jinja's own and the flow filters)."""
    return sorted(ENVIRONMENT.filters)


def _predecessors(graph: dict[str, Any], node_id: str) -> list[str]:
    """The nodes from which `node_id` is reached by the edges of `graph`, nearest first."""
    edges = graph.get("edges")
    incoming: dict[str, list[str]] = {}
    for edge in edges if isinstance(edges, list) else ():
        if isinstance(edge, dict) and isinstance(edge.get("from"), str) and isinstance(edge.get("to"), str):
            incoming.setdefault(edge["to"], []).append(edge["from"])
    found: list[str] = []
    queue = list(incoming.get(node_id, ()))
    while queue:
        current = queue.pop(0)
        if current not in found and current != node_id:
            found.append(current)
            queue.extend(incoming.get(current, ()))
    return found


def earlier_nodes(document: FlowDocument, node_id: str) -> list[str]:
    """The nodes whose output `node_id` can read: those that run before it."""
    found: list[str] = []
    current: str | None = node_id
    while current is not None:
        ref = document.index.nodes.get(current)
        if ref is None:
            break
        found.extend(n for n in _predecessors(ref.graph, current) if n not in found)
        current = ref.container
    return found


def completions(document: FlowDocument, node_id: str | None) -> list[str]:
    """The dotted names an expression of `node_id` may use (None: a flow-level expression)."""
    raw = document.raw
    words: list[str] = []
    for section, scope in (("inputs", "inputs"), ("variables", "vars")):
        entries = raw.get(section)
        words.extend(f"{scope}.{name}" for name in (entries if isinstance(entries, dict) else {}))
    if node_id is not None:
        words.extend(f"steps.{other}.output" for other in earlier_nodes(document, node_id))
        for container in document.index.ancestors(node_id):
            if document.index.nodes[container].node.get("type") in LOOP_TYPES and "item" not in words:
                words.extend(["item", "index"])
        if any(r.body == "catch" for r in _chain(document, node_id)):
            words.append("error")
    else:
        words.extend(f"steps.{other}.output" for other in document.index.nodes)
    words.extend(["execution.id", "env"])
    return words


def _chain(document: FlowDocument, node_id: str) -> list[Any]:
    refs = []
    ref = document.index.nodes.get(node_id)
    while ref is not None:
        refs.append(ref)
        ref = document.index.nodes.get(ref.container) if ref.container else None
    return refs
