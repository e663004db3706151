"""The scene: graphics items drawn from a `FlowDocument`, following its events.

The scene owns no flow state. It builds items from the document, and on each event rebuilds
only what the event names (a moved node is moved, a graph whose edges changed gets its edges
again). Edits made on the canvas (a drag, a wire, a drop) go back through `execute`, and the
items follow the event that edit emits, so undo and redo redraw the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QPointF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from shared.flow import TOP_GRAPH
from studio.model import (
    DebuggerChanged,
    DebuggerNode,
    EdgesChanged,
    FlowChanged,
    FlowDocument,
    NodesAdded,
    NodesChanged,
    NodesRemoved,
    SelectionChanged,
    ValidationChanged,
)
from studio.model._layout import position
from studio.views.canvas._items import BodyItem, ContainerItem, EdgeItem, NodeItem, NoteItem


def _count_nested(node: dict[str, Any], bodies: Iterable[str]) -> int:
    count = 0
    for name in bodies:
        body = node.get(name)
        for child in body.get("nodes") or () if isinstance(body, dict) else ():
            if isinstance(child, dict):
                count += 1 + _count_nested(child, bodies)
    return count


class FlowScene(QGraphicsScene):
    """Items of one document; call `close()` before dropping the scene (it unsubscribes)."""

    def __init__(self, document: FlowDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.nodes: dict[str, NodeItem] = {}
        self.bodies: dict[str, BodyItem] = {}
        self.edges: dict[str, list[EdgeItem]] = {}
        self.notes: dict[str, NoteItem] = {}
        self._syncing = False
        self._debug_state: str | None = None
        self.detail = True
        """False while zoomed far out: ports are hidden (thousands fewer items to paint)."""
        events = document.events
        self._unsubscribe: list[Callable[[], None]] = [
            events.connect(NodesAdded, self._on_added),
            events.connect(NodesRemoved, self._on_removed),
            events.connect(NodesChanged, self._on_changed),
            events.connect(EdgesChanged, self._on_edges),
            events.connect(FlowChanged, self._on_flow),
            events.connect(SelectionChanged, self._on_selection),
            events.connect(ValidationChanged, self._on_validation),
            events.connect(DebuggerChanged, self._on_debugger),
            events.connect(DebuggerNode, self._on_debugger_node),
        ]
        self.selectionChanged.connect(self._selection_to_model)
        self.rebuild()

    def close(self) -> None:
        """Stop following the document."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    # -- building ---------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Build every item again from the document."""
        self._syncing = True
        try:
            self.clear()
            self.nodes.clear()
            self.bodies.clear()
            self.edges.clear()
            self.notes.clear()
            self._build_graph(TOP_GRAPH, None)
            self._build_notes()
            self._on_selection(SelectionChanged(self.document.selection.ids))
        finally:
            self._syncing = False

    def _graph_nodes(self, label: str) -> list[dict[str, Any]]:
        graph = self.document.index.graphs.get(label)
        nodes = graph.get("nodes") if graph is not None else None
        return (
            [n for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)]
            if isinstance(nodes, list)
            else []
        )

    def _build_graph(self, label: str, parent: BodyItem | None) -> None:
        for node in self._graph_nodes(label):
            if node["id"] not in self.nodes:
                self._make_node(node, label, parent)
        self._build_edges(label)

    def _declared_bodies(self, node: dict[str, Any]) -> tuple[str, ...]:
        step_type = node.get("type")
        registry = self.document.registry
        if isinstance(step_type, str) and step_type in registry:
            return registry.get(step_type).bodies
        return tuple(name for name in self.document.shape.body_names if isinstance(node.get(name), dict))

    def _ports(self, node: dict[str, Any]) -> tuple[str, ...]:
        step_type = node.get("type")
        registry = self.document.registry
        if not isinstance(step_type, str) or step_type not in registry:
            return ("out", "error")
        params = node.get("params")
        ports = registry.get(step_type).ports_for(params if isinstance(params, dict) else {})
        return ports if ports is not None else ("default", "error")

    def _make_node(self, node: dict[str, Any], label: str, parent: BodyItem | None) -> NodeItem:
        node_id = str(node["id"])
        bodies = self._declared_bodies(node)
        item: NodeItem = ContainerItem(node_id, label) if bodies else NodeItem(node_id, label)
        item.refresh(node, self._ports(node))
        if not self.detail:
            for port in item.ports.values():
                port.setVisible(False)
        if parent is None:
            self.addItem(item)
        else:
            item.setParentItem(parent)
        item.setPos(*position(node))
        self.nodes[node_id] = item
        if isinstance(item, ContainerItem):
            ui = node.get("ui")
            item.collapsed = isinstance(ui, dict) and ui.get("collapsed") is True
            if item.collapsed:
                item.hidden_count = _count_nested(node, self.document.shape.body_names)
            else:
                # Bodies and what they hold are built only while the container is expanded.
                for name in bodies:
                    body = BodyItem(item, name)
                    item.bodies[name] = body
                    self.bodies[body.label] = body
                    self._build_graph(body.label, body)
            item.relayout()
        return item

    def _build_edges(self, label: str) -> None:
        """Bring graph `label`'s edge items in line with its edges: items of edges still there
        stay (a 1,000-edge graph whose one edge changed does not rebuild 999 items)."""
        graph = self.document.index.graphs.get(label)
        raw_edges = graph.get("edges") if graph is not None else None
        wanted: dict[tuple[str, str, str], None] = {}
        for edge in raw_edges if isinstance(raw_edges, list) else ():
            if isinstance(edge, dict):
                wanted[(str(edge.get("from")), str(edge.get("port", "out")), str(edge.get("to")))] = None
        kept: list[EdgeItem] = []
        for item in self.edges.pop(label, []):
            key = (item.source.node_id, item.port, item.target.node_id)
            alive = self.nodes.get(key[0]) is item.source and self.nodes.get(key[2]) is item.target
            if alive and key in wanted and item.source.ports.get(item.port) is not None:
                del wanted[key]
                kept.append(item)
                continue
            item.detach()
            if item.scene() is self:
                self.removeItem(item)
        body = self.bodies.get(label)
        for source_id, port, target_id in wanted:
            source, target = self.nodes.get(source_id), self.nodes.get(target_id)
            if source is None or target is None or source.graph != label or target.graph != label:
                continue
            item = EdgeItem(label, source, port, target)
            if body is None:
                self.addItem(item)
            else:
                item.setParentItem(body)
            item.adjust()
            kept.append(item)
        self.edges[label] = kept

    def _build_notes(self) -> None:
        for note in self.notes.values():
            if note.scene() is self:
                self.removeItem(note)
        self.notes.clear()
        ui = self.document.raw.get("ui")
        notes = ui.get("notes") if isinstance(ui, dict) else None
        for note in notes if isinstance(notes, list) else ():
            if not isinstance(note, dict) or not isinstance(note.get("id"), str):
                continue
            label = str(note.get("graph", TOP_GRAPH))
            body = self.bodies.get(label)
            if label != TOP_GRAPH and body is None:
                continue  # in a collapsed container
            item = NoteItem(note["id"], label)
            item.refresh(note)
            if body is None:
                self.addItem(item)
            else:
                item.setParentItem(body)
            x, y = note.get("x", 0), note.get("y", 0)
            item.setPos(
                float(x) if isinstance(x, int | float) else 0.0, float(y) if isinstance(y, int | float) else 0.0
            )
            self.notes[item.note_id] = item

    # -- following the document -------------------------------------------------------------

    def _drop_item(self, item: NodeItem) -> None:
        for edge in list(item.edges):
            edge.detach()
            siblings = self.edges.get(edge.graph, [])
            if edge in siblings:
                siblings.remove(edge)
            if edge.scene() is self:
                self.removeItem(edge)
        for child in item.childItems():
            for nested in [c for c in child.childItems() if isinstance(c, NodeItem)]:
                self._drop_item(nested)
            if isinstance(child, BodyItem):
                self.bodies.pop(child.label, None)
                self.edges.pop(child.label, None)
        self.nodes.pop(item.node_id, None)
        if item.scene() is self:
            self.removeItem(item)

    def _relayout_up(self, item: QGraphicsItem | None) -> None:
        parent = item.parentItem() if item is not None else None
        while isinstance(parent, BodyItem):
            parent.container.relayout()
            parent = parent.container.parentItem()

    def _on_removed(self, event: NodesRemoved) -> None:
        parents = []
        for node_id in event.ids:
            item = self.nodes.get(node_id)
            if item is not None:
                parents.append(item.parentItem())
                self._drop_item(item)
        for parent in parents:
            if isinstance(parent, BodyItem) and parent.scene() is self:
                self._relayout_up(parent.childItems()[0] if parent.childItems() else None)
                parent.container.relayout()
                self._relayout_up(parent.container)

    def _on_added(self, event: NodesAdded) -> None:
        index = self.document.index
        # Outer nodes first: building a container builds what its bodies hold.
        for node_id in sorted(event.ids, key=lambda i: len(index.ancestors(i))):
            ref = index.nodes.get(node_id)
            if ref is None or node_id in self.nodes:
                continue
            body = self.bodies.get(ref.graph_label)
            if ref.graph_label != TOP_GRAPH and body is None:
                self._refresh_collapsed(ref.container)
                continue
            item = self._make_node(ref.node, ref.graph_label, body)
            self._relayout_up(item)

    def _refresh_collapsed(self, container: str | None) -> None:
        item = self.nodes.get(container or "")
        if isinstance(item, ContainerItem) and item.collapsed and container in self.document.index:
            item.hidden_count = _count_nested(self.document.node(container or ""), self.document.shape.body_names)
            item.update()

    def _on_changed(self, event: NodesChanged) -> None:
        index = self.document.index
        rebuilt: set[str] = set()
        for node_id in event.ids:
            ref = index.nodes.get(node_id)
            item = self.nodes.get(node_id)
            if ref is None:
                continue
            collapsed = isinstance(ref.node.get("ui"), dict) and ref.node["ui"].get("collapsed") is True
            moved_graph = item is not None and item.graph != ref.graph_label
            toggled = isinstance(item, ContainerItem) and item.collapsed != collapsed
            if item is None or moved_graph or toggled:
                self._replace(node_id, item, ref.graph_label)
                rebuilt.add(ref.graph_label)
                continue
            ports = item.ports
            item.refresh(ref.node, self._ports(ref.node))
            x, y = position(ref.node)
            if item.pos() != QPointF(x, y):
                item.setPos(x, y)
                item.adjust_edges()
            if item.ports is not ports:
                rebuilt.add(ref.graph_label)
            self._relayout_up(item)
        for label in rebuilt:
            if label == TOP_GRAPH or label in self.bodies:
                self._build_edges(label)

    def _replace(self, node_id: str, item: NodeItem | None, label: str) -> None:
        old_parent = item.parentItem() if item is not None else None
        if item is not None:
            self._drop_item(item)
            if isinstance(old_parent, BodyItem):
                old_parent.container.relayout()
                self._relayout_up(old_parent.container)
                self._build_edges(old_parent.label)
        body = self.bodies.get(label)
        if label == TOP_GRAPH or body is not None:
            new = self._make_node(self.document.node(node_id), label, body)
            self._relayout_up(new)
            new.setSelected(node_id in self.document.selection.ids)

    def _on_edges(self, event: EdgesChanged) -> None:
        for label in event.graphs:
            if label == TOP_GRAPH or label in self.bodies:
                self._build_edges(label)

    def _on_flow(self, event: FlowChanged) -> None:
        if "ui" in event.keys:
            self._build_notes()
            for container in {b.container for b in self.bodies.values()}:
                container.relayout()

    def _on_selection(self, event: SelectionChanged) -> None:
        was, self._syncing = self._syncing, True
        try:
            for node_id, item in self.nodes.items():
                selected = node_id in event.ids
                if item.isSelected() != selected:
                    item.setSelected(selected)
        finally:
            self._syncing = was

    def _selection_to_model(self) -> None:
        if self._syncing:
            return
        ids = [item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)]
        self.document.selection.select(ids)

    def _on_validation(self, event: ValidationChanged) -> None:
        counts: dict[str, int] = {}
        for found in (*event.problems, *event.findings):
            node = getattr(found, "node", None)
            if isinstance(node, str):
                counts[node] = counts.get(node, 0) + 1
        for node_id, item in self.nodes.items():
            if item.problems != counts.get(node_id, 0):
                item.problems = counts.get(node_id, 0)
                item.update()

    def _on_debugger(self, event: DebuggerChanged) -> None:
        if event.state == "running" and self._debug_state in (None, "idle", "finished"):
            self.clear_run_states()
        self._debug_state = event.state
        if event.state == "paused" and event.node in self.nodes:
            self.set_run_state(event.node, "breakpoint")

    def _on_debugger_node(self, event: DebuggerNode) -> None:
        state = "running" if event.phase == "started" else (event.status or "done")
        self.set_run_state(event.node, state)

    def set_detail(self, detail: bool) -> None:
        """Show ports (zoomed in) or hide them (zoomed far out, where they would be sub-pixel)."""
        if detail == self.detail:
            return
        self.detail = detail
        for item in self.nodes.values():
            for port in item.ports.values():
                port.setVisible(detail)

    def set_run_state(self, node_id: str, state: str | None) -> None:
        """Colour a node by its run state (`running`, `done`, `failed`, `breakpoint`), or clear it."""
        item = self.nodes.get(node_id)
        if item is not None:
            item.run_state = state
            item.update()

    def clear_run_states(self) -> None:
        """Forget every node's run state (a new run starts)."""
        for item in self.nodes.values():
            if item.run_state is not None:
                item.run_state = None
                item.update()

    # -- queries for the view ---------------------------------------------------------------

    def graph_at(self, point: QPointF, exclude: QGraphicsItem | None = None) -> tuple[str, QPointF]:
        """The graph under a scene point (the innermost expanded body, else the top graph) and the
        point in that graph's coordinates; the bodies of `exclude` (a dragged node) do not count."""
        for item in self.items(point):
            if isinstance(item, BodyItem) and not (exclude is not None and exclude.isAncestorOf(item)):
                return item.label, item.mapFromScene(point)
        return TOP_GRAPH, point

    def moved_positions(self) -> tuple[dict[str, list[float]], dict[str, tuple[float, float]]]:
        """Selected nodes and notes whose item is not where the document has them (after a drag)."""
        nodes: dict[str, list[float]] = {}
        notes: dict[str, tuple[float, float]] = {}
        for item in self.selectedItems():
            x, y = round(item.pos().x()), round(item.pos().y())
            if isinstance(item, NodeItem) and item.node_id in self.document.index:
                if position(self.document.node(item.node_id)) != (x, y):
                    nodes[item.node_id] = [x, y]
            elif isinstance(item, NoteItem) and item.model_pos != (x, y):
                notes[item.note_id] = (x, y)
        return nodes, notes
