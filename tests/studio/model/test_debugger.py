"""The debugger drives real runs of the engine in-process: stops, outputs shown, steps, stop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.engine import Engine
from shared.errors import FlowInvalidError
from shared.flow import Flow
from shared.steps import StepRegistry
from studio.model import DebuggerChanged, DebuggerNode, EventBus, FlowDocument
from studio.model.debugger import TRANSITIONS, Debugger, DebuggerError


def _flow(nodes: list[dict[str, Any]], edges: list[tuple[str, str]], **extra: Any) -> Flow:
    document = {
        "schema": "rpa.flow/1",
        "name": "debugged",
        "nodes": nodes,
        "edges": [{"from": s, "to": t} for s, t in edges],
        **extra,
    }
    return Flow.model_validate(document)


CHAIN = _flow(
    [
        {"id": "a", "type": "core.noop", "params": {"value": 1}},
        {"id": "b", "type": "core.noop", "params": {"value": "{{ steps.a.output + vars.bump }}"}},
        {"id": "c", "type": "core.noop", "params": {"value": "{{ steps.b.output * 2 }}"}},
    ],
    [("a", "b"), ("b", "c")],
    variables={"bump": 1},
    outputs={"c": "{{ steps.c.output }}"},
)

LOOP = _flow(
    [
        {"id": "start", "type": "core.noop", "params": {"value": 0}},
        {
            "id": "each",
            "type": "control.foreach",
            "params": {"items": [1, 2, 3]},
            "body": {"nodes": [{"id": "inner", "type": "core.noop", "params": {"value": "{{ item * 10 }}"}}]},
        },
        {"id": "end", "type": "core.noop", "params": {"value": "{{ steps.each.output | length }}"}},
    ],
    [("start", "each"), ("each", "end")],
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(StepRegistry.default(), artifacts_dir=tmp_path_factory.mktemp("artifacts"))


async def test_a_breakpoint_stops_shows_params_and_outputs_and_variables_can_be_edited(engine: Engine) -> None:
    bus = EventBus()
    states: list[str] = []
    bus.connect(DebuggerChanged, lambda e: states.append(e.state))
    highlighted: list[tuple[str, str]] = []
    bus.connect(DebuggerNode, lambda e: highlighted.append((e.phase, e.node)))
    debugger = Debugger(engine, CHAIN, events=bus)
    debugger.set_breakpoint("b")
    debugger.start()
    stop = await debugger.wait_paused()
    assert stop is not None
    assert (stop.node_id, debugger.reason, debugger.state) == ("b", "breakpoint", "paused")
    assert stop.params == {"value": 2}
    assert stop.outputs == {"a": 1}
    assert stop.variables == {"bump": 1}
    assert debugger.runs["a"].output == 1
    debugger.set_variable("bump", 10)
    debugger.continue_()
    result = await debugger.wait_finished()
    assert result is not None
    assert (result.status, result.outputs) == ("succeeded", {"c": 22})
    assert debugger.runs["b"].output == 11
    assert debugger.runs["b"].params == {"value": 2}  # as rendered when it stopped
    assert states == ["running", "paused", "running", "finished"]
    assert highlighted == [
        ("started", "a"),
        ("finished", "a"),
        ("started", "b"),
        ("finished", "b"),
        ("started", "c"),
        ("finished", "c"),
    ]


async def test_a_conditional_breakpoint_stops_only_when_true(engine: Engine) -> None:
    debugger = Debugger(engine, LOOP)
    debugger.set_breakpoint("inner", "{{ item == 2 }}")
    debugger.start()
    stop = await debugger.wait_paused()
    assert stop is not None
    assert stop.path == "each[1]/inner"
    assert stop.params == {"value": 20}
    debugger.continue_()
    result = await debugger.wait_finished()
    assert result is not None
    assert result.status == "succeeded"
    assert [run.path for run in debugger.runs.values()] == [
        "start",
        "each[0]/inner",
        "each[1]/inner",
        "each[2]/inner",
        "each",
        "end",
    ]


async def test_step_into_a_container_then_over_its_nodes_then_out(engine: Engine) -> None:
    debugger = Debugger(engine, LOOP)
    debugger.set_breakpoint("each")
    debugger.start()
    paths = []
    stop = await debugger.wait_paused()
    for action in (debugger.step_into, debugger.step_over, debugger.step_over, debugger.step_over):
        assert stop is not None
        paths.append(stop.path)
        action()
        stop = await debugger.wait_paused()
    assert stop is not None
    paths.append(stop.path)
    assert paths == ["each", "each[0]/inner", "each[1]/inner", "each[2]/inner", "end"]
    debugger.continue_()
    await debugger.wait_finished()


async def test_step_over_a_container_runs_it_whole(engine: Engine) -> None:
    debugger = Debugger(engine, LOOP)
    debugger.set_breakpoint("each")
    debugger.start()
    await debugger.wait_paused()
    debugger.step_over()
    stop = await debugger.wait_paused()
    assert stop is not None
    assert stop.path == "end"
    assert stop.outputs["each"] == [{"inner": 10}, {"inner": 20}, {"inner": 30}]
    debugger.continue_()
    await debugger.wait_finished()


async def test_a_finished_debugger_runs_again_and_stops_again(engine: Engine) -> None:
    debugger = Debugger(engine, CHAIN)
    debugger.set_breakpoint("c")
    for _ in range(2):
        debugger.start()
        stop = await debugger.wait_paused()
        assert stop is not None
        assert stop.node_id == "c"
        debugger.continue_()
        result = await debugger.wait_finished()
        assert result is not None
        assert result.status == "succeeded"


async def test_stop_ends_the_run_as_cancelled(engine: Engine) -> None:
    debugger = Debugger(engine, CHAIN)
    debugger.set_breakpoint("b")
    debugger.start()
    await debugger.wait_paused()
    debugger.stop()
    result = await debugger.wait_finished()
    assert result is not None
    assert result.status == "cancelled"
    assert set(debugger.runs) == {"a"}
    assert debugger.state == "finished"


async def test_pause_stops_before_the_next_node(engine: Engine) -> None:
    debugger = Debugger(engine, CHAIN)
    debugger.start()
    debugger.pause()
    assert debugger.state == "pausing"
    stop = await debugger.wait_paused()
    assert stop is not None
    assert (stop.node_id, debugger.reason) == ("a", "pause")
    debugger.continue_()
    result = await asyncio.wait_for(debugger.wait_finished(), 10)
    assert result is not None
    assert result.status == "succeeded"


async def test_run_from_a_node_takes_the_earlier_outputs_from_the_last_run(engine: Engine) -> None:
    first = Debugger(engine, CHAIN)
    first.start()
    await first.wait_finished()
    assert first.journal is not None
    previous = first.journal.read()
    # The designer edits `a` and runs from `c`: a and b are not run again; c reads b's old output.
    edited = CHAIN.model_copy(deep=True)
    edited.nodes[0].params["value"] = 100
    again = Debugger(engine, edited)
    again.run_from("c", previous)
    result = await again.wait_finished()
    assert result is not None
    assert (result.status, result.outputs) == ("succeeded", {"c": 4})
    assert set(again.runs) == {"c"}


def test_actions_outside_the_table_name_what_is_allowed(engine: Engine) -> None:
    debugger = Debugger(engine, CHAIN)
    with pytest.raises(DebuggerError, match="cannot continue while idle; allowed: start"):
        debugger.continue_()
    with pytest.raises(DebuggerError, match="while paused, not while idle"):
        debugger.set_variable("bump", 2)
    assert {state for state, _ in TRANSITIONS} == {"idle", "running", "pausing", "paused", "stopping", "finished"}


async def test_the_document_being_edited_is_what_runs(engine: Engine, doc: FlowDocument) -> None:
    bad = FlowDocument.new(registry=doc.registry)
    bad.execute("add_node", type="core.wait")
    with pytest.raises(FlowInvalidError, match=r"core\.wait needs param 'seconds'"):
        bad.to_flow()
    plain = FlowDocument.new(registry=doc.registry)
    first = plain.execute("add_node", type="core.noop", params={"value": 1})
    second = plain.execute("add_node", type="core.noop", params={"value": f"{{{{ steps.{first}.output + 1 }}}}"})
    plain.execute("connect", source=first, target=second)
    plain.execute("set_entry", section="outputs", name="out", value=f"{{{{ steps.{second}.output }}}}")
    debugger = Debugger(engine, plain.to_flow())
    debugger.start()
    result = await debugger.wait_finished()
    assert result is not None
    assert result.outputs == {"out": 2}


async def test_a_broken_breakpoint_condition_stops_and_says_why(engine: Engine) -> None:
    debugger = Debugger(engine, CHAIN)
    debugger.set_breakpoint("b", "{{ vars.missing.deeper > 1 }}")
    debugger.start()
    stop = await debugger.wait_paused()
    assert stop is not None
    assert stop.node_id == "b"
    assert debugger.reason is not None
    assert debugger.reason.startswith("breakpoint condition failed:")
    debugger.continue_()
    await debugger.wait_finished()
