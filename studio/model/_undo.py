"""Primitive edits of raw JSON with their inverses, and the undo stack that holds them.

Every command is built from four primitives on a JSON container (set a key, delete a key,
insert into a list, remove from a list). Each primitive records its inverse as it is applied,
so undo is the inverses in reverse order, whatever the command was. Containers are held by
identity, not by path: a later edit that shifts list positions cannot make an undo hit the
wrong node.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

OpKind = Literal["set", "delete", "insert", "remove"]

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Op:
    """One primitive edit: `container[key] = value`, `del container[key]`, `list.insert`, `list.pop`."""

    kind: OpKind
    container: Any
    key: Any
    value: Any = None

    def apply(self) -> Op:
        """Apply the edit; return its inverse."""
        if self.kind == "set":
            old = (
                self.container.get(self.key, _MISSING) if isinstance(self.container, dict) else self.container[self.key]
            )
            self.container[self.key] = self.value
            return (
                Op("delete", self.container, self.key) if old is _MISSING else Op("set", self.container, self.key, old)
            )
        if self.kind == "delete":
            old = self.container.pop(self.key)
            return Op("set", self.container, self.key, old)
        if self.kind == "insert":
            self.container.insert(self.key, self.value)
            return Op("remove", self.container, self.key)
        old = self.container.pop(self.key)
        return Op("insert", self.container, self.key, old)


@dataclass
class Change:
    """What one edit touched, for the events it causes."""

    nodes: set[str] = field(default_factory=set)
    graphs: set[str] = field(default_factory=set)
    flow_keys: set[str] = field(default_factory=set)
    structure: bool = False
    """Nodes or graphs were added or removed: the index is rebuilt."""
    appended: tuple[str, dict[str, Any]] | None = None
    """A single node appended to a graph (`add_node`): indexed without a rebuild."""

    def merge(self, other: Change) -> None:
        """Add what `other` touched."""
        self.nodes |= other.nodes
        self.graphs |= other.graphs
        self.flow_keys |= other.flow_keys
        self.structure = self.structure or other.structure or self.appended is not None or other.appended is not None
        self.appended = None


@dataclass
class UndoEntry:
    """One undo step: the inverses of its primitives, in the order they were applied."""

    kind: str
    label: str
    inverses: list[Op]
    change: Change
    merge_key: Hashable | None = None
    redo_ops: list[Op] = field(default_factory=list)

    def undo(self) -> None:
        """Apply the inverses, newest first; remember how to redo."""
        self.redo_ops = [op.apply() for op in reversed(self.inverses)]

    def redo(self) -> None:
        """Apply the edit again."""
        self.inverses = [op.apply() for op in reversed(self.redo_ops)]


class UndoStack:
    """Undo entries with a current index and a clean index (the state last saved).

    `dirty` is "the current index is not the clean one", so undoing back to the saved state
    makes the document clean again, and a save followed by undo makes it dirty.
    """

    def __init__(self, limit: int = 500) -> None:
        self.entries: list[UndoEntry] = []
        self.index = 0
        self.clean_index: int | None = 0
        self.limit = limit
        self._sealed = True

    @property
    def dirty(self) -> bool:
        """Whether the document differs from the state last marked clean."""
        return self.index != self.clean_index

    def push(self, entry: UndoEntry) -> bool:
        """Add an applied entry, merged into the previous one when their merge keys agree.

        Returns:
            True when merged.
        """
        del self.entries[self.index :]
        if self.clean_index is not None and self.clean_index > self.index:
            self.clean_index = None  # the saved state was undone and is now unreachable
        top = self.entries[-1] if self.entries else None
        can_merge = (
            top is not None
            and not self._sealed
            and entry.merge_key is not None
            and top.merge_key == entry.merge_key
            and self.clean_index != self.index
        )
        self._sealed = False
        if can_merge:
            assert top is not None
            top.inverses.extend(entry.inverses)
            top.change.merge(entry.change)
            return True
        self.entries.append(entry)
        self.index += 1
        if len(self.entries) > self.limit:
            del self.entries[0]
            self.index -= 1
            self.clean_index = None if self.clean_index in (None, 0) else self.clean_index - 1
        return False

    def seal(self) -> None:
        """End merging: the next edit starts a new undo step (a drag ended, a field lost focus)."""
        self._sealed = True

    def mark_clean(self) -> None:
        """The current state was saved."""
        self.clean_index = self.index
        self._sealed = True

    def undo_entry(self) -> UndoEntry | None:
        """The entry undo would revert."""
        return self.entries[self.index - 1] if self.index > 0 else None

    def redo_entry(self) -> UndoEntry | None:
        """The entry redo would apply."""
        return self.entries[self.index] if self.index < len(self.entries) else None
