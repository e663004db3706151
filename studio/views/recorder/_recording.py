"""The recorded nodes as the recorder streams them, and the designer's review of them (Qt-free).

The protocol's `action` semantics (agent/recorder/README.md): a node whose id is new is
appended, a node with an id seen before replaces that node (typing goes on in the same field),
and a node with `before` goes in front of the node it names (a dialog handler before the action
that raised the dialog). The review then removes and reorders nodes before they are inserted.
"""

from __future__ import annotations

import copy
from typing import Any


class Recording:
    """Recorded flow nodes in order."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.nodes)

    def ids(self) -> list[str]:
        """The node ids in order."""
        return [str(node["id"]) for node in self.nodes]

    def _position(self, node_id: str) -> int | None:
        return next((i for i, node in enumerate(self.nodes) if node.get("id") == node_id), None)

    def apply(self, event: dict[str, Any]) -> int:
        """Take one `action` event; the row it changed or added."""
        node = event.get("node")
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise ValueError(f"an action event without a node: {event!r}")
        node = copy.deepcopy(node)
        node.setdefault("id", f"node_{len(self.nodes) + 1}")
        existing = self._position(str(node["id"]))
        if existing is not None:
            self.nodes[existing] = node
            return existing
        before = event.get("before")
        at = self._position(str(before)) if before is not None else None
        if at is None:
            self.nodes.append(node)
            return len(self.nodes) - 1
        self.nodes.insert(at, node)
        return at

    def remove(self, row: int) -> None:
        """Drop the node at `row`."""
        del self.nodes[row]

    def move(self, row: int, offset: int) -> int:
        """Move the node at `row` up (-1) or down (+1); its new row."""
        target = max(0, min(len(self.nodes) - 1, row + offset))
        self.nodes.insert(target, self.nodes.pop(row))
        return target

    def clear(self) -> None:
        """Forget every node (a new recording)."""
        self.nodes.clear()


def describe(node: dict[str, Any]) -> str:
    """One line for the list: the step and what it acts on (never a secret: passwords are credential names)."""
    raw = node.get("params")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    step = str(node.get("type", "?")).removeprefix("browser.")
    target = params.get("target")
    if isinstance(target, dict):
        target = target.get("selector")
    parts = [step]
    if target:
        parts.append(str(target).removeprefix("internal:"))
    for key in ("url", "value", "credential", "key", "index"):
        if key in params:
            parts.append(f"{key}={params[key]}")
    return "  ".join(parts)


def start_url(raw: dict[str, Any]) -> str | None:
    """The flow's start page: the `url` of its first `browser.open` node, when there is one."""
    for node in raw.get("nodes") or ():
        if isinstance(node, dict) and node.get("type") == "browser.open":
            params = node.get("params") or {}
            url = params.get("url") if isinstance(params, dict) else None
            if isinstance(url, str) and url:
                return url
    return None
