"""Typed events of the studio's model, and the small bus views subscribe to.

Views never own state: they mutate the model through its commands and redraw from these
events (napari's evented models, without a framework). Events are batched per edit: one
`NodesChanged` with every id an edit touched, not one event per node, so a 5,000-node paste is
one redraw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar


@dataclass(frozen=True, slots=True)
class ModelEvent:
    """Base of every event the model emits."""


@dataclass(frozen=True, slots=True)
class NodesAdded(ModelEvent):
    """Nodes that now exist (added, pasted, or back after an undo)."""

    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class NodesRemoved(ModelEvent):
    """Nodes that no longer exist."""

    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class NodesChanged(ModelEvent):
    """Nodes whose params, settings or position changed."""

    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class EdgesChanged(ModelEvent):
    """Graphs whose edges changed, by label (`$` for the top graph, `<container>.<body>` else)."""

    graphs: frozenset[str]


@dataclass(frozen=True, slots=True)
class FlowChanged(ModelEvent):
    """Top-level parts that changed (`variables`, `inputs`, `settings`, `ui`...)."""

    keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class DirtyChanged(ModelEvent):
    """The document became dirty (unsaved edits) or clean."""

    dirty: bool


@dataclass(frozen=True, slots=True)
class UndoChanged(ModelEvent):
    """What undo and redo would do now (labels), for menus."""

    undo: str | None
    redo: str | None


@dataclass(frozen=True, slots=True)
class SelectionChanged(ModelEvent):
    """The selected node ids."""

    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class ValidationChanged(ModelEvent):
    """The validator's problems and the analyser's findings were recomputed."""

    problems: tuple[Any, ...]
    findings: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class DebuggerChanged(ModelEvent):
    """The debugger moved to another state, or stopped at another node."""

    state: str
    node: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class DebuggerNode(ModelEvent):
    """A node instance started (`phase="started"`, highlight it) or settled (`"finished"`)."""

    phase: str
    node: str
    path: str
    status: str | None = None


E = TypeVar("E", bound=ModelEvent)
Listener = Callable[[Any], None]


@dataclass
class EventBus:
    """Observers by event type; `emit` calls those of the event's type, then the catch-alls."""

    _listeners: dict[type[ModelEvent], list[Listener]] = field(default_factory=dict)

    def connect(self, kind: type[E], listener: Callable[[E], None]) -> Callable[[], None]:
        """Call `listener` with each event of `kind` (`ModelEvent` for every event).

        Returns:
            A function that disconnects the listener.
        """
        listeners = self._listeners.setdefault(kind, [])
        listeners.append(listener)

        def disconnect() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return disconnect

    def emit(self, event: ModelEvent) -> None:
        """Deliver `event` to its listeners, in the order they connected."""
        for listener in tuple(self._listeners.get(type(event), ())):
            listener(event)
        for listener in tuple(self._listeners.get(ModelEvent, ())):
            listener(event)
