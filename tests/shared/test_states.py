"""Execution states are defined once (`shared.states`); nothing re-lists them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args, get_type_hints

import pytest

from shared.engine import ExecutionResult
from shared.protocol import JobFinished
from shared.states import HELD_STATES, TERMINAL_STATES, ExecutionStatus, TerminalStatus

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "orchestrator", "agent", "studio", "cli", "bench", "tests")
TERMINAL_NAMES = frozenset(get_args(TerminalStatus))
HELD_NAMES = frozenset(state.value for state in HELD_STATES)


def test_the_groups() -> None:
    assert {s.value for s in TERMINAL_STATES} == {"succeeded", "failed", "cancelled", "timed_out"}
    assert {ExecutionStatus.ASSIGNED, ExecutionStatus.RUNNING, ExecutionStatus.PAUSED} == HELD_STATES
    assert not HELD_STATES & TERMINAL_STATES


def test_the_wire_and_the_engine_end_in_the_terminal_states() -> None:
    assert set(get_args(JobFinished.model_fields["status"].annotation)) == TERMINAL_NAMES
    assert set(get_args(get_type_hints(ExecutionResult)["status"])) == TERMINAL_NAMES
    with pytest.raises(ValueError, match="status"):
        JobFinished(execution_id="e", attempt=1, status="lost", outputs={})  # type: ignore[arg-type]


def _listed_groups(tree: ast.AST) -> list[tuple[int, str]]:
    """Line and name of each literal tuple/list/set (or `Literal[...]`) of state names, as text or
    as enum members (`State.FAILED`), that spells out a whole group instead of importing it."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            elements = node.elts
        else:
            continue
        names = {e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        names |= {e.attr.lower() for e in elements if isinstance(e, ast.Attribute) and e.attr.isupper()}
        if names == TERMINAL_NAMES:
            found.append((node.lineno, "terminal states"))
        elif names == HELD_NAMES:
            found.append((node.lineno, "held states"))
    return found


def _may_list_a_group(text: str) -> bool:
    """Whether `text` names every state of a group (as text or as enum members): only such a file
    can list one, so only those are parsed (parsing all ~1,000 files took seconds)."""
    lower = text.lower()
    return any(all(name in lower for name in group) for group in (TERMINAL_NAMES, HELD_NAMES))


def test_the_filter_keeps_every_spelling_of_a_group() -> None:
    for source in ('x = ("succeeded", "failed", "cancelled", "timed_out")', "y = {S.ASSIGNED, S.RUNNING, S.PAUSED}"):
        assert _may_list_a_group(source)
        assert _listed_groups(ast.parse(source))
    assert not _may_list_a_group('z = ("succeeded", "failed")')


def test_no_module_lists_a_group_of_states_again() -> None:
    """`shared/states.py` is the only place the terminal and held states are spelled out."""
    definition = ROOT / "shared" / "states.py"
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else ():
            if path in (definition, Path(__file__).resolve()) or ".venv" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if not _may_list_a_group(text):
                continue
            tree = ast.parse(text, str(path))
            offenders += [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in _listed_groups(tree)]
    assert offenders == [], "import them from shared.states instead:\n" + "\n".join(offenders)
