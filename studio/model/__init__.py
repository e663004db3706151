"""The studio's Qt-free document model: the flow being edited, its undo history, selection,
live validation, the workflow analyser and the debugger's state.

Views (Qt widgets) take these objects, send edits through `FlowDocument.execute`, and redraw
from the events on `FlowDocument.events`; nothing here imports Qt.
"""

from studio.model._analyser import RULES, Finding, Rule, analyse
from studio.model._commands import COMMANDS, CommandKind
from studio.model._diff import EdgeChange, EntryChanges, FieldChange, FlowDiff, NodeChange, diff_flows, ghost_document
from studio.model._document import DocumentError, FlowDocument, NewerFormatError, Selection, write_atomic
from studio.model._edit import CommandError
from studio.model._events import (
    DebuggerChanged,
    DebuggerNode,
    DirtyChanged,
    EdgesChanged,
    EventBus,
    FlowChanged,
    ModelEvent,
    NodesAdded,
    NodesChanged,
    NodesRemoved,
    SelectionChanged,
    UndoChanged,
    ValidationChanged,
)
from studio.model._files import RecentFiles, Recovery, RecoveryCandidate, Settings, config_dir
from studio.model._placing import with_positions
from studio.model._validation import LiveValidation, ProblemAt, node_of, parse_json_path

__all__ = [
    "COMMANDS",
    "RULES",
    "CommandError",
    "CommandKind",
    "DebuggerChanged",
    "DebuggerNode",
    "DirtyChanged",
    "DocumentError",
    "EdgeChange",
    "EdgesChanged",
    "EntryChanges",
    "EventBus",
    "FieldChange",
    "Finding",
    "FlowChanged",
    "FlowDiff",
    "FlowDocument",
    "LiveValidation",
    "ModelEvent",
    "NewerFormatError",
    "NodeChange",
    "NodesAdded",
    "NodesChanged",
    "NodesRemoved",
    "ProblemAt",
    "RecentFiles",
    "Recovery",
    "RecoveryCandidate",
    "Rule",
    "Selection",
    "SelectionChanged",
    "Settings",
    "UndoChanged",
    "ValidationChanged",
    "analyse",
    "config_dir",
    "diff_flows",
    "ghost_document",
    "node_of",
    "parse_json_path",
    "with_positions",
    "write_atomic",
]
