"""The studio's model runs without Qt: imported and edited with PySide6 and qasync blocked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import studio.model

ROOT = Path(__file__).resolve().parents[2]

_BLOCKED = """
import importlib.abc, json, sys
BLOCKED = {"PySide6", "shiboken6", "qasync", "pytestqt"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
import studio.model, studio.model.debugger
doc = studio.model.FlowDocument.new("Headless")
node = doc.execute("add_node", type="core.log", params={"message": "hi"})
doc.execute("set_param", node=node, name="message", value="changed")
doc.undo()
live = studio.model.LiveValidation(doc)
live.run()
print(json.dumps({
    "message": doc.node(node)["params"]["message"],
    "problems": len(live.problems),
    "qt": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
}))
"""


def test_the_model_edits_and_undoes_with_qt_unavailable(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _BLOCKED], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"message": "hi", "problems": 0, "qt": []}


def test_public_names_are_pinned() -> None:
    assert sorted(studio.model.__all__) == [
        "COMMANDS",
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
        "RULES",
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
