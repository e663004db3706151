"""The shared core runs without the heavy parts, its core subpackages without any network, process,
command-line or UI library, and its public names are pinned. (The import-linter contracts in
`pyproject.toml` hold the same rules statically.)"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
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
from cli import main
main()
"""


def test_a_flow_runs_with_qt_web_database_and_desktop_libraries_unavailable(tmp_path: Path) -> None:
    flow = ROOT / "resources" / "flows" / "demo" / "order-triage.json"
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKER, str(flow)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["outputs"]["flagged"] == ["A-101", "A-103"]
    blocked = [m for m in ("PySide6", "fastapi", "sqlalchemy", "playwright") if m in done.stderr]
    assert blocked == []


_CORE_ONLY = """
import asyncio, importlib.abc, json, pathlib, sys
BLOCKED = {"httpx", "websockets", "typer", "rich", "click", "PySide6", "qasync", "cli"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
import shared.engine, shared.expressions, shared.flow, shared.protocol, shared.steps
registry = shared.steps.StepRegistry.default()
flow = shared.flow.load_flow(sys.argv[1], registry=registry)
loader = shared.engine.FileFlowLoader(pathlib.Path(sys.argv[1]).parent, registry)
engine = shared.engine.Engine(registry, loader=loader, artifacts_dir=".")
result = asyncio.run(engine.run(flow, journal=shared.engine.MemoryJournal("x")))
print(json.dumps({"status": result.status, "flagged": result.outputs["flagged"]}))
"""


def test_the_core_runs_a_flow_with_network_cli_and_ui_libraries_unavailable(tmp_path: Path) -> None:
    flow = ROOT / "resources" / "flows" / "demo" / "order-triage.json"
    done = subprocess.run(
        [sys.executable, "-c", _CORE_ONLY, str(flow)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "succeeded", "flagged": ["A-101", "A-103"]}


def test_public_names_are_pinned() -> None:
    assert sorted(shared.engine.__all__) == [
        "EVENTS_SCHEMA",
        "EVENT_TYPES",
        "Engine",
        "Event",
        "ExecutionHooks",
        "ExecutionResult",
        "ExecutionState",
        "FileFlowLoader",
        "FlowLoader",
        "Journal",
        "MemoryJournal",
        "NodeResult",
        "NodeStop",
        "PauseGate",
        "RESTART_POINT",
        "RestartFrom",
        "SqliteJournal",
        "fold",
        "rerun_events",
    ]
    assert sorted(shared.flow.__all__) == [
        "ASSET_CONTENT_TYPES",
        "ASSET_MARK",
        "AssetError",
        "AssetUse",
        "DOCUMENT_FIELDS",
        "Edge",
        "Flow",
        "FlowSettings",
        "Graph",
        "GraphShape",
        "GraphVisit",
        "InputSpec",
        "MAX_ASSETS",
        "MAX_ASSET_BYTES",
        "MAX_VERSION_ASSET_BYTES",
        "Node",
        "NodeVisit",
        "Problem",
        "RetryPolicy",
        "SCHEMA_TAG",
        "TOP_GRAPH",
        "asset_uses",
        "check_asset",
        "diff_documents",
        "find_assets",
        "find_credential_params",
        "flow_json_schema",
        "image_paths",
        "is_flow_relative",
        "load_flow",
        "missing_assets",
        "normalise_asset_path",
        "parse_document",
        "resolve_inputs",
        "validate_document",
        "validate_flow",
        "value_fits",
        "walk_graphs",
        "walk_nodes",
    ]
    assert sorted(shared.steps.__all__) == [
        "ASSET_FILE",
        "ASSET_TARGETS",
        "CREDENTIAL_NAME",
        "ENTRY_POINT_GROUP",
        "ExecutionResources",
        "NoParams",
        "Output",
        "Route",
        "StepContext",
        "StepDefinition",
        "StepEnvironment",
        "StepRegistry",
        "context",
        "definition_of",
        "step",
    ]
    assert sorted(shared.states.__all__) == [
        "ExecutionStatus",
        "HELD_STATES",
        "TERMINAL_STATES",
        "TerminalStatus",
    ]
    for module in (shared.engine, shared.flow, shared.steps, shared.expressions, shared.states):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name} is exported but missing"


def _forbidden(source: list[str]) -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert "cli" in config["root_packages"]
    found: set[str] = set()
    for contract in config["contracts"]:
        if contract["type"] == "forbidden" and sorted(contract["source_modules"]) == sorted(source):
            found |= set(contract["forbidden_modules"])
    return found


def test_the_import_contracts_that_keep_the_layers_apart_are_declared() -> None:
    # `lint-imports` enforces them; this pins that they are there to be enforced.
    core = ["shared.engine", "shared.flow", "shared.steps", "shared.expressions", "shared.protocol"]
    assert {"httpx", "websockets", "subprocess", "typer", "rich", "PySide6", "qasync"} <= _forbidden(core)
    assert "cli" in _forbidden(["shared"])
    assert {"typer", "rich", "PySide6", "qasync"} <= _forbidden(["shared.client"])
    assert {"orchestrator", "agent", "studio", "httpx"} <= _forbidden(["cli"])
