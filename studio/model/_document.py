"""The flow document the studio edits: raw JSON, its index, undo history, selection, events.

The document keeps the file's JSON object as it was read and changes only what an edit names,
so keys and parts this version does not know (a newer field, a plugin's data) survive a save.
A file this studio wrote is written back byte for byte (`to_text` is a fixed formatting). A
file whose format version is newer than this studio's is refused; a file that is valid JSON
but not a valid flow opens, with its problems listed and everything else shown.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shared.errors import FlowLoadError
from shared.flow import SCHEMA_TAG, Flow, GraphShape, load_flow
from shared.flow._load import parse_document
from shared.steps import StepRegistry
from studio.model._commands import COMMANDS
from studio.model._edit import CommandError, Edit
from studio.model._events import (
    DirtyChanged,
    EdgesChanged,
    EventBus,
    FlowChanged,
    NodesAdded,
    NodesChanged,
    NodesRemoved,
    SelectionChanged,
    UndoChanged,
)
from studio.model._index import NodeIndex
from studio.model._undo import Change, UndoEntry, UndoStack

FORMAT_VERSION = 1
_SCHEMA = re.compile(r"^rpa\.flow/(\d+)$")


class DocumentError(Exception):
    """A flow file that cannot be opened; the message says why and where."""


class NewerFormatError(DocumentError):
    """The file is written in a newer version of the flow format than this studio reads."""


def _check_version(raw: Any, where: str) -> None:
    if not isinstance(raw, dict):
        raise DocumentError(f"{where}: a flow is a JSON object, not {type(raw).__name__}")
    match = _SCHEMA.match(str(raw.get("schema", "")))
    if match and int(match.group(1)) > FORMAT_VERSION:
        raise NewerFormatError(
            f"{where} is in format {raw['schema']}, newer than the {SCHEMA_TAG} this studio reads: "
            "update the studio to open it (the file was not changed)"
        )


class Selection:
    """The selected node ids, with an event on each change."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self.ids: frozenset[str] = frozenset()

    def select(self, ids: Iterable[str], mode: str = "replace") -> None:
        """Select `ids` (`replace`), add them (`add`), or toggle each (`toggle`)."""
        chosen = frozenset(ids)
        new = {"replace": chosen, "add": self.ids | chosen, "toggle": self.ids ^ chosen}[mode]
        self._set(new)

    def clear(self) -> None:
        """Select nothing."""
        self._set(frozenset())

    def _set(self, ids: frozenset[str]) -> None:
        if ids != self.ids:
            self.ids = ids
            self._bus.emit(SelectionChanged(ids))


class FlowDocument:
    """One open flow."""

    def __init__(
        self,
        raw: dict[str, Any],
        *,
        path: str | Path | None = None,
        registry: StepRegistry | None = None,
        undo_limit: int = 500,
    ) -> None:
        self.raw = raw
        self.path: Path | None = Path(path) if path is not None else None
        self.registry = registry or StepRegistry.default()
        self.shape = GraphShape(self.registry)
        self.events = EventBus()
        self.selection = Selection(self.events)
        self.undo_stack = UndoStack(undo_limit)
        self.index = NodeIndex(raw, self.shape)
        self.read_only: str | None = None
        """Why the document refuses edits (e.g. "version 3 of Invoices is published"), or None."""
        self.source: Any = None
        """Where the document came from when not a file (an orchestrator's workflow), for its views."""

    # -- opening and saving -----------------------------------------------------------------

    @classmethod
    def new(cls, name: str = "New flow", *, registry: StepRegistry | None = None) -> FlowDocument:
        """An empty flow, not yet saved."""
        return cls({"schema": SCHEMA_TAG, "name": name, "nodes": [], "edges": []}, registry=registry)

    @classmethod
    def open(cls, path: str | Path, *, registry: StepRegistry | None = None) -> FlowDocument:
        """Open a flow file (`.json`; `.yaml` / `.yml` are imported and saved as JSON).

        Raises:
            DocumentError: unreadable, not JSON/YAML (with line and column), or not an object.
            NewerFormatError: a newer format version.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise DocumentError(f"cannot read {path}: {err}") from None
        imported = path.suffix.lower() in (".yaml", ".yml")
        document = cls.from_text(text, where=str(path), yaml=imported, registry=registry)
        document.path = None if imported else path
        if imported:
            document.undo_stack.clean_index = None  # not saved as JSON yet
        return document

    @classmethod
    def from_text(
        cls, text: str, *, where: str = "the flow", yaml: bool = False, registry: StepRegistry | None = None
    ) -> FlowDocument:
        """A document from JSON (or YAML) text.

        Raises:
            DocumentError: not parsable (the message has the line and column), or not an object.
            NewerFormatError: a newer format version.
        """
        try:
            raw = parse_document(text, yaml_allowed=yaml)
        except FlowLoadError as err:
            raise DocumentError(f"{where}: {err}") from None
        _check_version(raw, where)
        return cls(raw, registry=registry)

    def to_text(self) -> str:
        """The document as this studio writes it: 2-space JSON, keys in their order, UTF-8."""
        return json.dumps(self.raw, indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | Path | None = None) -> Path:
        """Write the document (atomically: a temporary file renamed over the target).

        Raises:
            DocumentError: no path yet, or a path that is not `.json`.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise DocumentError("the flow has no file yet: choose where to save it")
        if target.suffix.lower() != ".json":
            raise DocumentError(f"flows are saved as JSON: {target.name} must end in .json")
        write_atomic(target, self.to_text())
        self.path = target
        self.mark_saved()
        return target

    def mark_saved(self) -> None:
        """The document as it is now was stored somewhere else than its file (an orchestrator)."""
        was_dirty = self.dirty
        self.undo_stack.mark_clean()
        if was_dirty:
            self.events.emit(DirtyChanged(False))

    @property
    def dirty(self) -> bool:
        """Unsaved edits exist."""
        return self.undo_stack.dirty

    @property
    def title(self) -> str:
        """The flow's name, else its file name."""
        name = self.raw.get("name")
        return name if isinstance(name, str) and name else (self.path.name if self.path else "Untitled")

    # -- edits ------------------------------------------------------------------------------

    def execute(self, kind: str, **args: Any) -> Any:
        """Apply one edit from the command table and push it on the undo stack.

        Returns:
            What the command returns (the new node's id for `add_node`, the new ids for `paste`...).

        Raises:
            CommandError: an unknown kind, or an edit that cannot be made; nothing changed then.
        """
        spec = COMMANDS.get(kind)
        if spec is None:
            raise CommandError(f"unknown edit '{kind}'; edits are: {', '.join(sorted(COMMANDS))}")
        if self.read_only is not None:
            raise CommandError(f"'{self.title}' is read-only ({self.read_only}): it cannot be edited")
        edit = Edit(self)
        try:
            spec.run(edit, **args)
        except TypeError as err:
            self._roll_back(edit)
            raise CommandError(f"{kind}: {err}") from None
        except BaseException:
            self._roll_back(edit)
            raise
        if not edit.inverses:
            return edit.result
        was_dirty = self.dirty
        merge_key = spec.merge_key(args) if spec.merge_key is not None else None
        self.undo_stack.push(UndoEntry(kind, spec.label, edit.inverses, edit.change, merge_key))
        self._changed(edit.change, was_dirty, undone=False)
        return edit.result

    def _roll_back(self, edit: Edit) -> None:
        for op in reversed(edit.inverses):
            op.apply()
        if edit.change.structure or edit.change.appended is not None:
            self.index = NodeIndex(self.raw, self.shape)

    def undo(self) -> bool:
        """Revert the last edit; False when there is nothing to undo."""
        entry = self.undo_stack.undo_entry()
        if entry is None:
            return False
        was_dirty = self.dirty
        entry.undo()
        self.undo_stack.index -= 1
        self.undo_stack.seal()
        self._changed(entry.change, was_dirty, undone=True)
        return True

    def redo(self) -> bool:
        """Apply the last undone edit again; False when there is nothing to redo."""
        entry = self.undo_stack.redo_entry()
        if entry is None:
            return False
        was_dirty = self.dirty
        entry.redo()
        self.undo_stack.index += 1
        self.undo_stack.seal()
        self._changed(entry.change, was_dirty, undone=False)
        return True

    def seal(self) -> None:
        """End the current merge (a drag ended, a field lost focus): the next edit is a new undo step."""
        self.undo_stack.seal()

    def _reindex(self, change: Change, undone: bool) -> tuple[set[str], set[str]]:
        """Bring the index up to date; the ids added and removed."""
        if change.appended is not None and not change.structure:
            label, node = change.appended
            node_id = str(node.get("id"))
            if undone and self.index.drop_last(label, node):
                return set(), {node_id}
            if not undone and self.index.append(label, node):
                return {node_id}, set()
        before = set(self.index.nodes)
        self.index = NodeIndex(self.raw, self.shape)
        after = set(self.index.nodes)
        return after - before, before - after

    def _changed(self, change: Change, was_dirty: bool, *, undone: bool) -> None:
        emit = self.events.emit
        added: set[str] = set()
        if change.structure or change.appended is not None:
            added, removed = self._reindex(change, undone)
            if removed:
                emit(NodesRemoved(frozenset(removed)))
                if self.selection.ids & removed:
                    self.selection.select(self.selection.ids - removed)
            if added:
                emit(NodesAdded(frozenset(added)))
        changed = {n for n in change.nodes if n in self.index.nodes} - added
        if changed:
            emit(NodesChanged(frozenset(changed)))
        if change.graphs:
            emit(EdgesChanged(frozenset(change.graphs)))
        if change.flow_keys:
            emit(FlowChanged(frozenset(change.flow_keys)))
        if self.dirty != was_dirty:
            emit(DirtyChanged(self.dirty))
        undo, redo = self.undo_stack.undo_entry(), self.undo_stack.redo_entry()
        emit(UndoChanged(undo.label if undo else None, redo.label if redo else None))

    # -- queries ----------------------------------------------------------------------------

    def node(self, node_id: str) -> dict[str, Any]:
        """The raw node object named `node_id` (read it; change it only through `execute`).

        Raises:
            KeyError: no such node.
        """
        return self.index.nodes[node_id].node

    def to_flow(self) -> Flow:
        """The flow as the engine runs it (for the debugger).

        Raises:
            FlowInvalidError: every problem of the document, when it is not valid.
        """
        return load_flow(self.raw, registry=self.registry)

    def copy(self, ids: Iterable[str]) -> str:
        """The clipboard JSON of the nodes `ids`."""
        from studio.model._clipboard import copy_nodes

        return copy_nodes(self.index, list(ids))


def write_atomic(target: Path, text: str) -> None:
    """Write `text` to `target` so a crash leaves either the old file or the new one, whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
