"""The context a command runs in: primitive edits that record their inverses, and look-ups.

A command is a plain function `(edit, **args)` in the command table (`_commands.COMMANDS`).
It reads the document through `edit` and changes it only through `edit.set` / `delete` /
`insert` / `remove`, naming what it touched so the document can emit the right events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.expressions import is_template
from shared.flow import TOP_GRAPH
from studio.model._index import NodeIndex, NodeRef
from studio.model._undo import Change, Op

if TYPE_CHECKING:
    from shared.flow import GraphShape
    from shared.steps import StepRegistry
    from studio.model._document import FlowDocument


class CommandError(ValueError):
    """An edit that cannot be made, with a message naming what and where (nothing was changed)."""


class Edit:
    """One command being applied to a document."""

    def __init__(self, document: FlowDocument) -> None:
        self.document = document
        self.inverses: list[Op] = []
        self.change = Change()
        self.result: Any = None

    # -- look-ups ---------------------------------------------------------------------------

    @property
    def raw(self) -> dict[str, Any]:
        """The document's JSON object."""
        return self.document.raw

    @property
    def index(self) -> NodeIndex:
        """Where each node sits (as it was before this command's structural edits)."""
        return self.document.index

    @property
    def registry(self) -> StepRegistry:
        """The step catalogue."""
        return self.document.registry

    @property
    def shape(self) -> GraphShape:
        """Which body names each step type holds."""
        return self.document.shape

    def node(self, node_id: str) -> NodeRef:
        """The node named `node_id`.

        Raises:
            CommandError: no such node.
        """
        ref = self.index.nodes.get(node_id)
        if ref is None:
            raise CommandError(f"no node '{node_id}' in this flow")
        return ref

    def nodes(self, ids: Any) -> list[NodeRef]:
        """The nodes named in `ids` (a non-empty collection of ids), in document order."""
        if isinstance(ids, str) or not ids:
            raise CommandError("name the nodes as a non-empty list of ids")
        refs = [self.node(node_id) for node_id in dict.fromkeys(ids)]
        order = {id(ref.node): n for n, ref in enumerate(self.index.refs)}
        return sorted(refs, key=lambda ref: order[id(ref.node)])

    def graph(self, label: str | None, *, create: bool = False) -> dict[str, Any]:
        """The graph labelled `label` (`$` or None for the top graph, `<container>.<body>`).

        Args:
            label: which graph.
            create: give the container an empty body of that name when it has none yet.

        Raises:
            CommandError: no such graph (or container body name).
        """
        if label is None or label == TOP_GRAPH:
            return self.raw
        found = self.index.graphs.get(label)
        if found is not None:
            return found
        container, _, body = label.rpartition(".")
        ref = self.index.nodes.get(container)
        if ref is None or not create:
            raise CommandError(f"no graph '{label}' in this flow")
        allowed = self.registry.get(ref.node["type"]).bodies if ref.node.get("type") in self.registry else ()
        if body not in allowed:
            raise CommandError(f"node '{container}' holds no '{body}' graph (it takes: {', '.join(allowed) or 'none'})")
        graph: dict[str, Any] = {"nodes": [], "edges": []}
        self.set(ref.node, body, graph, node=container)
        self.change.structure = True
        self.index.graphs[label] = graph
        return graph

    def list_in(self, container: dict[str, Any], key: str, *, owner: str | None = None) -> list[Any]:
        """`container[key]` as a list, created empty when missing.

        Raises:
            CommandError: it exists and is not a list (a broken document: fix it first).
        """
        value = container.get(key)
        if value is None:
            value = []
            self.set(container, key, value, node=owner)
        if not isinstance(value, list):
            raise CommandError(f"'{key}' of {owner or 'the flow'} is not a list; fix it before editing")
        return value

    def dict_in(self, container: dict[str, Any], key: str, *, node: str | None = None) -> dict[str, Any]:
        """`container[key]` as an object, created empty when missing."""
        value = container.get(key)
        if value is None:
            value = {}
            self.set(container, key, value, node=node)
        if not isinstance(value, dict):
            raise CommandError(f"'{key}' of {node or 'the flow'} is not an object; fix it before editing")
        return value

    def all_ids(self) -> set[str]:
        """Every node id in the document, and the ids of notes."""
        ids = set(self.index.nodes)
        ui = self.raw.get("ui")
        notes = ui.get("notes") if isinstance(ui, dict) else None
        if isinstance(notes, list):
            ids.update(n["id"] for n in notes if isinstance(n, dict) and isinstance(n.get("id"), str))
        return ids

    # -- primitives -------------------------------------------------------------------------

    def _apply(self, op: Op) -> None:
        self.inverses.append(op.apply())

    def touch(
        self, container: dict[str, Any] | None = None, *, node: str | None = None, key: str | None = None
    ) -> None:
        """Record that a node, a graph's edges or a top-level part changed."""
        if node is not None:
            self.change.nodes.add(node)
        if container is self.raw and key is not None:
            self.change.flow_keys.add(key)

    def set(self, container: Any, key: Any, value: Any, *, node: str | None = None) -> None:
        """`container[key] = value` (no-op when equal)."""
        if (
            isinstance(container, dict)
            and key in container
            and container[key] == value
            and type(container[key]) is type(value)
        ):
            return
        self._apply(Op("set", container, key, value))
        self.touch(container, node=node, key=key if isinstance(key, str) else None)

    def delete(self, container: dict[str, Any], key: str, *, node: str | None = None) -> None:
        """`del container[key]` (no-op when absent)."""
        if key in container:
            self._apply(Op("delete", container, key))
            self.touch(container, node=node, key=key)

    def insert(self, items: list[Any], position: int, value: Any) -> None:
        """`items.insert(position, value)`."""
        self._apply(Op("insert", items, position, value))

    def append(self, items: list[Any], value: Any) -> None:
        """`items.append(value)`."""
        self.insert(items, len(items), value)

    def remove(self, items: list[Any], value: Any) -> None:
        """Remove the object `value` (found by identity) from `items`."""
        for position, item in enumerate(items):
            if item is value:
                self._apply(Op("remove", items, position))
                return
        raise CommandError("internal: the item to remove is not in its list")

    def edges_changed(self, label: str) -> None:
        """Record that the edges of graph `label` changed."""
        self.change.graphs.add(label)

    def structure_changed(self) -> None:
        """Nodes were added or removed: the index is rebuilt after the command."""
        self.change.structure = True

    def rewrite_templates(self, rewrite: Callable[[str], str]) -> None:
        """Apply `rewrite` to every template string of the document, naming the nodes (and
        top-level parts) whose text changed."""
        for ref in self.index.refs:
            bodies = self.shape.bodies_of(ref.node.get("type"))
            for key, value in list(ref.node.items()):
                if key not in bodies:
                    self._rewrite(ref.node, key, value, rewrite, ref.id, None)
        for key, value in list(self.raw.items()):
            if key not in ("nodes", "edges"):
                self._rewrite(self.raw, key, value, rewrite, None, key)

    def _rewrite(
        self, container: Any, key: Any, value: Any, rewrite: Callable[[str], str], node: str | None, part: str | None
    ) -> None:
        if isinstance(value, str):
            changed = rewrite(value) if is_template(value) else value
            if changed != value:
                self.set(container, key, changed, node=node)
                if part is not None:
                    self.change.flow_keys.add(part)
            return
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for sub, item in list(items):
            self._rewrite(value, sub, item, rewrite, node, part)
