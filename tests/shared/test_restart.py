"""`RestartFrom`: a step whose scope's live state is gone runs the scope again from its restart
point, once per run, journaling what it runs again; a resume folds that record."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.engine import RESTART_POINT, Engine, MemoryJournal, RestartFrom, fold
from shared.flow import Flow
from shared.steps import StepRegistry, context, step

EXECUTION = "exec-restart"
RUNS: list[str] = []
"""Every step run, by node path, across engines (each test clears it)."""


class ScopeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: str = Field("s", description="Scope name.")
    restartable: bool = Field(True, description="Note a restart point.")


@step("test.open_scope", params=ScopeParams)
def open_scope(params: ScopeParams) -> str:
    """Open a scope kept in the execution's resources."""
    ctx = context()
    RUNS.append(ctx.path)
    ctx.resources.pop(f"scope:{params.scope}")  # open again after a restart
    ctx.resources.put(f"scope:{params.scope}", "live")
    if params.restartable:
        ctx.note(RESTART_POINT, {"scope": f"scope:{params.scope}"})
    return "opened"


@step("test.use_scope", params=ScopeParams)
def use_scope(params: ScopeParams) -> str:
    """Use the scope; restart it when it is gone (a fresh process)."""
    ctx = context()
    RUNS.append(ctx.path)
    if ctx.resources.get(f"scope:{params.scope}") is None:
        raise RestartFrom(f"scope:{params.scope}", f"scope '{params.scope}' is gone", kind="no_session")
    return "used"


@step("test.plain", params=ScopeParams)
def plain(params: ScopeParams) -> str:
    """A step outside the scope."""
    RUNS.append(context().path)
    return "plain"


@step("test.lost_scope", params=ScopeParams)
def lost_scope(params: ScopeParams) -> str:
    """A scope that never comes back."""
    RUNS.append(context().path)
    raise RestartFrom(f"scope:{params.scope}", "lost for good", kind="no_session")


REGISTRY = StepRegistry([open_scope, use_scope, plain, lost_scope])


def linear(*nodes: tuple[str, str], restartable: bool = True) -> Flow:
    documents = [
        {"id": node_id, "type": kind, "params": {"restartable": restartable} if kind == "test.open_scope" else {}}
        for node_id, kind in nodes
    ]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(documents)]
    return Flow.model_validate(
        {"schema": "rpa.flow/1", "name": "restart", "nodes": documents, "edges": edges, "outputs": {}}
    )


FLOW = (("before", "test.plain"), ("open", "test.open_scope"), ("login", "test.use_scope"), ("click", "test.use_scope"))


async def interrupted_after(node_id: str, flow: Flow) -> list[Any]:
    """The journal of a run as it stood right after `node_id` succeeded (the host went away)."""
    journal = MemoryJournal(EXECUTION)
    await Engine(REGISTRY).run(flow, journal=journal, execution_id=EXECUTION)
    events = journal.read()
    cut = max(i for i, e in enumerate(events) if e.type == "node.succeeded" and e.path == node_id)
    return events[: cut + 1]


@pytest.fixture(autouse=True)
def _clear() -> None:
    RUNS.clear()


async def test_a_resume_without_the_scope_runs_it_again_from_its_restart_point() -> None:
    flow = linear(*FLOW)
    seed = await interrupted_after("login", flow)
    RUNS.clear()
    journal = MemoryJournal(EXECUTION, seed)
    result = await Engine(REGISTRY).run(flow, journal=journal)
    assert result.status == "succeeded", result.error
    # click found the scope gone; open and login run again, then click; before is replayed.
    assert RUNS == ["click", "open", "login", "click"]
    events = journal.read()
    (restarted,) = [e for e in events if e.type == "node.restarted"]
    assert restarted.path == "click"
    assert restarted.data["scope"] == "scope:s"
    assert restarted.data["from"] == "open"
    assert restarted.data["rerun"] == ["open", "login", "click"]
    assert "is gone" in restarted.data["reason"]
    state = fold(events)
    assert state.restart_points == {"scope:s": "open"}
    assert {p: r.status for p, r in state.results.items()} == dict.fromkeys(
        ("before", "open", "login", "click"), "succeeded"
    )


async def test_a_journal_cut_after_the_restart_record_runs_the_scope_again() -> None:
    flow = linear(*FLOW)
    seed = await interrupted_after("login", flow)
    journal = MemoryJournal(EXECUTION, seed)
    await Engine(REGISTRY).run(flow, journal=journal)
    events = journal.read()
    cut = next(i for i, e in enumerate(events) if e.type == "node.restarted")
    state = fold(events[: cut + 1])
    assert set(state.results) == {"before"}  # open and login are forgotten: they run again
    RUNS.clear()
    again = MemoryJournal(EXECUTION, events[: cut + 1])
    assert (await Engine(REGISTRY).run(flow, journal=again)).status == "succeeded"
    assert RUNS == ["open", "login", "click"]


async def test_without_a_restart_point_the_step_fails_with_its_own_error() -> None:
    flow = linear(*FLOW, restartable=False)
    seed = await interrupted_after("login", flow)
    RUNS.clear()
    result = await Engine(REGISTRY).run(flow, journal=MemoryJournal(EXECUTION, seed))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["kind"] == "no_session"
    assert result.error["message"] == "scope 's' is gone"
    assert result.error["details"]["scope"] == "scope:s"
    assert RUNS == ["click"]


async def test_a_restart_is_honoured_once_per_run() -> None:
    flow = linear(("open", "test.open_scope"), ("lost", "test.lost_scope"))
    journal = MemoryJournal(EXECUTION)
    result = await Engine(REGISTRY).run(flow, journal=journal, execution_id=EXECUTION)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["kind"] == "no_session"
    assert RUNS == ["open", "lost", "open", "lost"]
    assert [e.type for e in journal.read()].count("node.restarted") == 1
