"""The shared core runs without the heavy parts, and its public names are pinned."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import shared.engine
import shared.expressions
import shared.flow
import shared.states
import shared.steps

ROOT = Path(__file__).resolve().parents[2]

_BLOCKER = """
import importlib.abc, sys
BLOCKED = {"PySide6", "qasync", "fastapi", "starlette", "sqlalchemy", "playwright", "pyautogui",
           "pytesseract", "openpyxl", "pdfplumber", "anthropic", "uvicorn", "asyncpg"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["rpa", "run", sys.argv[1], "--json"]
from shared.cli import main
main()
"""


def test_a_flow_runs_with_qt_web_database_and_desktop_libraries_unavailable(tmp_path: Path) -> None:
    flow = ROOT / "resources" / "flows" / "demo" / "order-triage.json"
    done = subprocess.run([sys.executable, "-c", _BLOCKER, str(flow)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["outputs"]["flagged"] == ["A-101", "A-103"]
    blocked = [m for m in ("PySide6", "fastapi", "sqlalchemy", "playwright") if m in done.stderr]
    assert blocked == []


def test_public_names_are_pinned() -> None:
    assert sorted(shared.engine.__all__) == [
        "EVENTS_SCHEMA", "EVENT_TYPES", "Engine", "Event", "ExecutionResult", "ExecutionState", "FileFlowLoader",
        "FlowLoader", "Journal", "MemoryJournal", "NodeResult", "SqliteJournal", "fold",
    ]
    assert sorted(shared.flow.__all__) == [
        "Edge", "Flow", "FlowSettings", "Graph", "GraphShape", "GraphVisit", "InputSpec", "Node", "NodeVisit",
        "Problem", "RetryPolicy", "SCHEMA_TAG", "TOP_GRAPH", "flow_json_schema", "load_flow", "parse_document",
        "resolve_inputs", "validate_document", "validate_flow", "walk_graphs", "walk_nodes",
    ]
    assert sorted(shared.steps.__all__) == [
        "ENTRY_POINT_GROUP", "NoParams", "Output", "Route", "StepContext", "StepDefinition", "StepEnvironment",
        "StepRegistry", "context", "definition_of", "step",
    ]
    assert sorted(shared.states.__all__) == [
        "ExecutionStatus", "HELD_STATES", "TERMINAL_STATES", "TerminalStatus",
    ]
    for module in (shared.engine, shared.flow, shared.steps, shared.expressions, shared.states):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name} is exported but missing"
