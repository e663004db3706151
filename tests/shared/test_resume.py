"""Crash and resume, scenario by scenario.

Two kinds of crash: the host cancels the engine's task while a chosen step is held open
(`run_until`), or the journal dies when a chosen event is appended (`CrashingJournal`, checked at
every event of a run by `check_every_crash_point`). A fresh `Engine` then resumes from what was
stored. Steps count their invocations by idempotency key (`Recorder`).
"""

from __future__ import annotations

import itertools
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from shared.engine import Event, ExecutionResult, MemoryJournal, SqliteJournal
from tests.shared.flowgen import (
    EXECUTION_ID,
    CrashingJournal,
    Recorder,
    Scenario,
    assert_well_formed,
    check_every_crash_point,
    count,
    count_events,
    durable_copy,
    flow_doc,
    outcome,
    reference_run,
    run_crashing,
    run_until,
)

REPO = Path(__file__).resolve().parents[2]


def outputs_of(*node_ids: str) -> dict[str, str]:
    return {node_id: f"{{{{ steps.{node_id}.output }}}}" for node_id in node_ids}


async def resume(scenario: Scenario, recorder: Recorder, events: list[Event]) -> tuple[ExecutionResult, list[Event]]:
    """Resume in a fresh engine from a durable copy of `events`."""
    recorder.hold.clear()
    engine, flow = scenario.setup(recorder)
    journal = MemoryJournal(EXECUTION_ID, durable_copy(events))
    result = await engine.run(flow, journal=journal)
    return result, journal.read()


async def crash_while_held(
    scenario: Scenario, *hold: str, also: Callable[[list[Event]], bool] | None = None
) -> tuple[Recorder, list[Event]]:
    """Run until every `hold` path is running (and `also(events)` holds), then kill the host."""
    recorder = Recorder(hold=set(hold))
    engine, flow = scenario.setup(recorder)
    journal = MemoryJournal(EXECUTION_ID)
    await run_until(
        engine,
        flow,
        journal,
        lambda: recorder.held >= set(hold) and (also is None or also(journal.read())),
        scenario.inputs,
    )
    events = journal.read()
    assert "execution.finished" not in {e.type for e in events}
    return recorder, events


def succeeded(events: list[Event]) -> set[str]:
    return set(count_events(events, "node.succeeded"))


# -- scenarios ----------------------------------------------------------------------------------


def chain() -> Scenario:
    return Scenario(
        flow_doc(
            [count("a"), count("b"), count("c"), count("d")],
            [("a", "b"), ("b", "c"), ("c", "d")],
            outputs_of("a", "b", "c", "d"),
        )
    )


def branches() -> Scenario:
    return Scenario(
        flow_doc(
            [
                count("start"),
                count("p1"),
                count("p2"),
                count("p3"),
                count("join", "{{ [steps.p1.output, steps.p2.output, steps.p3.output] }}"),
            ],
            [("start", "p1"), ("start", "p2"), ("start", "p3"), ("p1", "join"), ("p2", "join"), ("p3", "join")],
            outputs_of("join"),
        )
    )


def foreach(concurrency: int) -> Scenario:
    body = {"nodes": [count("x", "{{ [item, index] }}"), count("y", "{{ item }}")], "edges": [{"from": "x", "to": "y"}]}
    loop = {
        "id": "loop",
        "type": "control.foreach",
        "params": {"items": ["a", "b", "c", "d", "e"], "concurrency": concurrency},
        "body": body,
    }
    return Scenario(
        flow_doc(
            [loop, count("after", "{{ steps.loop.output | length }}")], [("loop", "after")], outputs_of("loop", "after")
        )
    )


def counter_loop() -> Scenario:
    inc = {"id": "inc", "type": "data.set_variable", "params": {"name": "i", "value": "{{ vars.i + 1 }}"}}
    loop = {
        "id": "loop",
        "type": "control.while",
        "params": {"condition": "{{ vars.i < 4 }}"},
        "body": {"nodes": [inc, count("rec", "{{ [index, vars.i] }}")], "edges": [{"from": "inc", "to": "rec"}]},
    }
    return Scenario(
        flow_doc([loop], outputs={"loop": "{{ steps.loop.output }}", "i": "{{ vars.i }}"}, variables={"i": 0})
    )


def try_catch() -> Scenario:
    guarded = {
        "id": "t",
        "type": "control.try",
        "body": {"nodes": [count("a"), count("f", fail=True)], "edges": [{"from": "a", "to": "f"}]},
        "catch": {"nodes": [count("c", "{{ error.message }}"), count("c2")], "edges": [{"from": "c", "to": "c2"}]},
        "finally": {"nodes": [count("fin", "{{ error.node }}")]},
    }
    return Scenario(
        flow_doc([guarded, count("after", "{{ steps.t.output.failed }}")], [("t", "after")], outputs_of("t", "after"))
    )


def sub_flow(tmp_path: Path) -> Scenario:
    child = flow_doc(
        [
            count("s1", "{{ inputs.x }}"),
            {"id": "setv", "type": "data.set_variable", "params": {"name": "cv", "value": "{{ inputs.x * 2 }}"}},
            count("s2", "{{ vars.cv }}"),
        ],
        [("s1", "setv"), ("setv", "s2")],
        {"s1": "{{ steps.s1.output }}", "s2": "{{ steps.s2.output }}", "cv": "{{ vars.cv }}"},
        name="child",
        inputs={"x": {"type": "integer", "required": True}},
        variables={"cv": 0},
    )
    (tmp_path / "child.json").write_text(json.dumps(child), encoding="utf-8")
    call = {"id": "call", "type": "flow.call", "params": {"flow": "child", "inputs": {"x": 5}}}
    return Scenario(
        flow_doc(
            [count("before"), call, count("after", "{{ steps.call.output.s2 }}")],
            [("before", "call"), ("call", "after")],
            outputs_of("call", "after"),
        ),
        flows_dir=tmp_path,
    )


def retried(fail_attempts: int, max_attempts: int) -> Scenario:
    flaky = count("r", fail_attempts=fail_attempts, retry={"max_attempts": max_attempts, "backoff_s": 0})
    return Scenario(
        flow_doc([count("before"), flaky, count("after")], [("before", "r"), ("r", "after")], outputs_of("r", "after"))
    )


# -- every crash point --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        chain,
        branches,
        lambda: foreach(1),
        lambda: foreach(3),
        counter_loop,
        try_catch,
        lambda: retried(1, 2),
        lambda: retried(99, 3),
    ],
    ids=[
        "chain",
        "branches",
        "foreach",
        "foreach_concurrent",
        "while",
        "try_catch",
        "retry_succeeds",
        "retry_exhausted",
    ],
)
async def test_a_crash_at_any_event_resumes_to_the_same_result(make: Any) -> None:
    assert await check_every_crash_point(make()) > 10


async def test_a_crash_at_any_event_of_a_sub_flow_resumes_to_the_same_result(tmp_path: Path) -> None:
    assert await check_every_crash_point(sub_flow(tmp_path)) > 10


# -- host stops while a step runs ---------------------------------------------------------------


async def test_chain_reruns_only_the_interrupted_step() -> None:
    scenario = chain()
    expected, _ = await reference_run(scenario)
    recorder, crashed = await crash_while_held(scenario, "c")
    assert succeeded(crashed) == {"a", "b"}

    result, events = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected) == ("succeeded", {"a": "a", "b": "b", "c": "c", "d": "d"}, None)
    assert [recorder.attempts(p) for p in "abcd"] == [[1], [1], [1, 2], [1]]
    assert_well_formed(events)


async def test_parallel_branches_resume_from_a_reopened_sqlite_journal(tmp_path: Path) -> None:
    scenario = branches()
    path = tmp_path / "journal.db"
    recorder = Recorder(hold={"p2"})
    engine, flow = scenario.setup(recorder)
    journal = SqliteJournal(path, EXECUTION_ID)
    await run_until(engine, flow, journal, lambda: "p2" in recorder.held and {"p1", "p3"} <= succeeded(journal.read()))
    journal.close()

    recorder.hold.clear()
    engine, flow = scenario.setup(recorder)
    reopened = SqliteJournal(path, EXECUTION_ID)
    result = await engine.run(flow, journal=reopened)

    assert outcome(result) == ("succeeded", {"join": ["p1", "p2", "p3"]}, None)
    assert {p: recorder.attempts(p) for p in ("start", "p1", "p2", "p3", "join")} == {
        "start": [1],
        "p1": [1],
        "p2": [1, 2],
        "p3": [1],
        "join": [1],
    }
    assert_well_formed(reopened.read())
    assert SqliteJournal.executions(path) == [(EXECUTION_ID, True)]
    reopened.close()


async def test_sequential_foreach_resumes_inside_the_interrupted_iteration() -> None:
    scenario = foreach(1)
    expected, _ = await reference_run(scenario)
    recorder, crashed = await crash_while_held(scenario, "loop[2]/y")

    result, events = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)
    assert result.outputs["loop"][2] == {"x": ["c", 2], "y": "c"}
    assert recorder.attempts("loop[2]/x") == [1]
    assert recorder.attempts("loop[2]/y") == [1, 2]
    assert all(recorder.attempts(f"loop[{i}]/{n}") == [1] for i in (0, 1, 3, 4) for n in "xy")
    started = [e.data["index"] for e in events if e.type == "iteration.started"]
    assert started == [0, 1, 2, 3, 4]
    assert_well_formed(events)


async def test_concurrent_foreach_reruns_only_the_unfinished_iterations() -> None:
    scenario = foreach(3)
    expected, _ = await reference_run(scenario)

    def others_finished(events: list[Event]) -> bool:
        return {e.data["index"] for e in events if e.type == "iteration.finished"} == {0, 2, 4}

    recorder, crashed = await crash_while_held(scenario, "loop[1]/y", "loop[3]/y", also=others_finished)
    before = recorder.snapshot()

    result, events = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)
    rerun = {key.split("/", 1)[1] for key, n in recorder.snapshot().items() if n > before.get(key, 0)}
    assert rerun == {"loop[1]/y", "loop[3]/y", "after"}
    assert sorted(e.data["index"] for e in events if e.type == "iteration.finished") == [0, 1, 2, 3, 4]
    assert_well_formed(events)


async def test_while_resumed_after_the_body_moved_the_counter_neither_skips_nor_repeats() -> None:
    scenario = counter_loop()
    expected, _ = await reference_run(scenario)
    recorder, crashed = await crash_while_held(scenario, "loop[1]/rec")
    # The crash comes after iteration 1 incremented the counter: the journal says i = 2.
    assert [e.data["value"] for e in crashed if e.type == "variable.set"] == [1, 2]

    result, events = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)
    assert [it["rec"] for it in result.outputs["loop"]] == [[0, 1], [1, 2], [2, 3], [3, 4]]
    assert result.outputs["i"] == 4
    assert [e.data["value"] for e in events if e.type == "variable.set"] == [1, 2, 3, 4]
    assert [e.data["index"] for e in events if e.type == "iteration.started"] == [0, 1, 2, 3]
    assert recorder.attempts("loop[1]/rec") == [1, 2]
    assert not any(e.path.startswith("loop[4]") for e in events)
    assert_well_formed(events)


async def test_while_crash_between_two_iterations_neither_skips_nor_repeats() -> None:
    scenario = counter_loop()
    expected, reference = await reference_run(scenario)
    between = next(e.seq for e in reference if e.type == "iteration.finished" and e.data["index"] == 1)
    recorder = Recorder()
    engine, flow = scenario.setup(recorder)
    inner = MemoryJournal(EXECUTION_ID)
    assert await run_crashing(engine, flow, CrashingJournal(inner, between, store=True), {}) is None
    assert inner.read()[-1].type == "iteration.finished"

    result, events = await resume(scenario, recorder, inner.read())

    assert outcome(result) == outcome(expected)
    assert [e.data["index"] for e in events if e.type == "iteration.started"] == [0, 1, 2, 3]
    assert all(recorder.attempts(f"loop[{i}]/rec") == [1] for i in range(4))


async def test_try_replays_the_recorded_failure_and_does_not_rerun_the_catch() -> None:
    scenario = try_catch()
    expected, _ = await reference_run(scenario)
    recorder, crashed = await crash_while_held(scenario, "t/c2")

    result, events = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)
    assert result.outputs["t"]["failed"] is True
    assert result.outputs["t"]["error"]["message"] == "boom"
    assert {p: recorder.attempts(p) for p in ("t/a", "t/f", "t/c", "t/c2", "t/fin", "after")} == {
        "t/a": [1],
        "t/f": [1],
        "t/c": [1],
        "t/c2": [1, 2],
        "t/fin": [1],
        "after": [1],
    }
    assert count_events(events, "node.failed")["t/f"] == 1
    assert_well_formed(events)


async def test_sub_flow_resumes_inside_with_its_own_variables(tmp_path: Path) -> None:
    scenario = sub_flow(tmp_path)
    expected, _ = await reference_run(scenario)
    recorder, crashed = await crash_while_held(scenario, "call/s2")

    result, events = await resume(scenario, recorder, crashed)

    assert (
        outcome(result)
        == outcome(expected)
        == ("succeeded", {"call": {"s1": 5, "s2": 10, "cv": 10}, "after": 10}, None)
    )
    assert {p: recorder.attempts(p) for p in ("before", "call/s1", "call/s2", "after")} == {
        "before": [1],
        "call/s1": [1],
        "call/s2": [1, 2],
        "after": [1],
    }
    assert f"{EXECUTION_ID}/call/s2" in recorder.calls  # the sub-flow step kept its key
    assert_well_formed(events)


async def test_failures_before_a_crash_count_toward_max_attempts() -> None:
    scenario = retried(99, 3)
    expected, reference = await reference_run(scenario)
    assert expected.status == "failed"
    third = [e.seq for e in reference if e.type == "node.started" and e.path == "r"][2]
    recorder = Recorder()
    engine, flow = scenario.setup(recorder)
    inner = MemoryJournal(EXECUTION_ID)
    # The process dies right after journaling the start of attempt 3, before running it.
    assert await run_crashing(engine, flow, CrashingJournal(inner, third, store=True), {}) is None
    assert len(recorder.attempts("r")) == 2

    result, events = await resume(scenario, recorder, inner.read())

    assert outcome(result) == outcome(expected)
    assert len(recorder.attempts("r")) == 3  # one more try, not three
    assert [e.data["will_retry"] for e in events if e.type == "node.failed"] == [True, True, False]
    assert recorder.attempts("after") == []


async def test_a_retry_interrupted_after_a_failure_succeeds_with_the_next_attempt() -> None:
    scenario = retried(1, 2)
    expected, reference = await reference_run(scenario)
    failed = next(e.seq for e in reference if e.type == "node.failed")
    recorder = Recorder()
    engine, flow = scenario.setup(recorder)
    inner = MemoryJournal(EXECUTION_ID)
    assert await run_crashing(engine, flow, CrashingJournal(inner, failed, store=True), {}) is None

    result, events = await resume(scenario, recorder, inner.read())

    assert outcome(result) == outcome(expected) == ("succeeded", {"r": "r", "after": "after"}, None)
    assert recorder.attempts("r") == [1, 2]
    assert count_events(events, "node.failed")["r"] == 1


@pytest.mark.parametrize("fails", [False, True], ids=["succeeded", "failed"])
async def test_a_finished_journal_returns_its_result_without_running_anything(tmp_path: Path, fails: bool) -> None:
    scenario = Scenario(flow_doc([count("a"), count("b", fail=fails)], [("a", "b")], outputs_of("a", "b")))
    path = tmp_path / "journal.db"
    engine, flow = scenario.setup(Recorder())
    journal = SqliteJournal(path, EXECUTION_ID)
    first = await engine.run(flow, journal=journal)
    journal.close()
    assert first.status == ("failed" if fails else "succeeded")

    recorder = Recorder()
    engine, flow = scenario.setup(recorder)
    reopened = SqliteJournal(path, EXECUTION_ID)
    stored = reopened.read()
    again = await engine.run(flow, {"ignored": True}, journal=reopened)

    assert outcome(again) == outcome(first)
    assert again.execution_id == EXECUTION_ID
    assert recorder.calls == {}
    assert reopened.read() == stored
    reopened.close()


async def test_large_outputs_loop_items_and_iteration_results_come_back_from_artifacts(tmp_path: Path) -> None:
    loop = {
        "id": "loop",
        "type": "control.foreach",
        "params": {"items": "{{ steps.big.output }}"},
        "body": {"nodes": [count("x", "{{ item ~ ' seen at position ' ~ index }}")]},
    }
    scenario = Scenario(
        flow_doc(
            [count("big", [f"item number {i}" for i in range(4)]), loop], [("big", "loop")], outputs_of("big", "loop")
        ),
        engine_options={"artifacts_dir": tmp_path, "max_inline_output": 40},
    )
    expected, _ = await reference_run(scenario)
    recorder, crashed = await crash_while_held(scenario, "loop[2]/x")
    by_kind = {e.type: e.data for e in crashed if e.path in ("big", "loop")}
    assert "$artifact" in by_kind["node.succeeded"]["output"]
    assert "$artifact" in by_kind["node.started"]["items"]
    assert "$artifact" in by_kind["iteration.finished"]["result"]

    result, events = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)
    assert result.outputs["loop"][1] == {"x": "item number 1 seen at position 1"}
    assert recorder.attempts("big") == [1]
    assert recorder.attempts("loop[1]/x") == [1]
    assert recorder.attempts("loop[2]/x") == [1, 2]
    assert_well_formed(events)


# -- a real process killed with SIGKILL ---------------------------------------------------------


def cli(*args: str) -> list[str]:
    if (REPO / "cli" / "__main__.py").exists():
        return [sys.executable, "-m", "cli", *args]
    return [str(REPO / ".venv" / "bin" / "rpa"), *args]


def journal_rows(path: Path) -> list[tuple[str, str, str]]:
    if not path.exists():
        return []
    with closing(sqlite3.connect(path, timeout=5)) as db:
        try:
            return db.execute("SELECT execution_id, type, path FROM events ORDER BY execution_id, seq").fetchall()
        except sqlite3.OperationalError:  # the writer has not created the table yet
            return []


def test_cli_run_killed_with_sigkill_resumes_and_runs_each_node_once(tmp_path: Path) -> None:
    steps = [f"w{i}" for i in range(1, 6)]
    flow = flow_doc(
        [{"id": s, "type": "core.wait", "params": {"seconds": 0.3}} for s in steps],
        list(itertools.pairwise(steps)),
        {"last": "{{ steps.w5.output }}"},
        name="waits",
    )
    flow_file, journal = tmp_path / "waits.json", tmp_path / "journal.db"
    flow_file.write_text(json.dumps(flow), encoding="utf-8")
    command = cli("run", str(flow_file), "--journal", str(journal), "--json")

    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as runner:
        deadline = time.monotonic() + 60
        try:
            while ("node.succeeded", "w2") not in {(t, p) for _, t, p in journal_rows(journal)}:
                assert runner.poll() is None, "the run ended before it could be killed"
                assert time.monotonic() < deadline, "w2 never finished"
                time.sleep(0.01)
        finally:
            runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=10)
    assert runner.returncode == -signal.SIGKILL
    killed = journal_rows(journal)
    assert "execution.finished" not in {t for _, t, _ in killed}
    done_before = {p for _, t, p in killed if t == "node.succeeded"}
    assert {"w1", "w2"} <= done_before
    assert "w5" not in done_before

    resumed = subprocess.run([*command, "--resume"], cwd=REPO, capture_output=True, text=True, timeout=60)

    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["status"] == "succeeded"
    assert report["outputs"] == {"last": 0.3}
    [(execution_id, finished)] = SqliteJournal.executions(journal)
    assert finished
    assert report["execution_id"] == execution_id
    rows = journal_rows(journal)
    assert count_events_rows(rows, "node.succeeded") == dict.fromkeys(steps, 1)
    started = count_events_rows(rows, "node.started")
    assert all(started[s] == 1 for s in done_before)  # finished before the kill: never again
    reader = SqliteJournal(journal, execution_id)
    assert_well_formed(reader.read())
    reader.close()


def count_events_rows(rows: list[tuple[str, str, str]], kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, t, p in rows:
        if t == kind:
            counts[p] = counts.get(p, 0) + 1
    return counts


# -- bugs ---------------------------------------------------------------------------------------


async def test_a_replayed_continue_does_not_put_error_in_scope() -> None:
    scenario = Scenario(
        flow_doc(
            [
                count("a", fail=True, on_error="continue"),
                count("b", "{{ error.message if error is defined else 'no error' }}"),
            ],
            [("a", "b")],
            outputs_of("b"),
        )
    )
    expected, _ = await reference_run(scenario)
    assert expected.outputs == {"b": "no error"}
    recorder, crashed = await crash_while_held(scenario, "b")

    result, _ = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)


async def test_try_body_results_stay_visible_after_a_replayed_try() -> None:
    guarded = {"id": "t", "type": "control.try", "body": {"nodes": [count("a", 41)]}}
    scenario = Scenario(
        flow_doc([guarded, count("after", "{{ steps.a.output + 1 }}")], [("t", "after")], outputs_of("after"))
    )
    expected, _ = await reference_run(scenario)
    assert expected.outputs == {"after": 42}
    recorder, crashed = await crash_while_held(scenario, "after")

    result, _ = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)


async def test_a_resume_does_not_journal_a_skipped_node_twice() -> None:
    router = {"id": "r", "type": "control.if", "params": {"condition": False}}
    scenario = Scenario(
        flow_doc(
            [router, count("x"), count("y"), count("z")],
            [("r", "true", "x"), ("r", "false", "y"), ("y", "z")],
            outputs_of("z"),
        )
    )
    recorder, crashed = await crash_while_held(scenario, "z")
    assert count_events(crashed, "node.skipped") == {"x": 1}

    _, events = await resume(scenario, recorder, crashed)

    assert count_events(events, "node.skipped") == {"x": 1}


async def test_artifacts_of_different_node_instances_do_not_collide(tmp_path: Path) -> None:
    loop = {
        "id": "a",
        "type": "control.foreach",
        "params": {"items": 2},
        "body": {"nodes": [count("b", "{{ 'loop body output ' ~ index }}")]},
    }
    scenario = Scenario(
        flow_doc(
            [count("a_1__b", "top-level node output"), loop, count("z")],
            [("a_1__b", "a"), ("a", "z")],
            outputs_of("a_1__b"),
        ),
        engine_options={"artifacts_dir": tmp_path, "max_inline_output": 12},
    )
    expected, _ = await reference_run(scenario)
    recorder, crashed = await crash_while_held(scenario, "z")

    result, _ = await resume(scenario, recorder, crashed)

    assert outcome(result) == outcome(expected)
