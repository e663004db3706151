"""Attended runs the agent creates itself: they start at once with no orchestrator, their report
goes out before their journal once one is there (protocol 5), an older orchestrator leaves them
waiting in the outbox, and pause / resume / stop act at step boundaries."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.attended import start_attended
from shared.protocol import ExecutionReport, JobFinished, JournalBatch
from shared.steps import context, step
from tests.agent.attended.conftest import ReportingOrchestrator, Version4Orchestrator, cached, make_runtime
from tests.agent.memory_orchestrator import until, wait_flow

HOTKEY = {"type": "hotkey", "hotkey": "Ctrl+Alt+F5"}
USER = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"


def _about(messages: list[Any], execution_id: str) -> list[str]:
    return [m.type for m in messages if getattr(m, "execution_id", None) == execution_id]


async def test_an_offline_run_finishes_here_and_is_reported_before_its_journal_once_back(tmp_path: Path) -> None:
    server = ReportingOrchestrator()
    runtime = make_runtime(tmp_path, server)
    try:
        run = start_attended(runtime, cached(tmp_path, wait_flow(3)), trigger=HOTKEY, user_id=USER)
        await run.wait()  # no connection at all: the run does not wait for one
        events = runtime.outbox.events(run.execution_id)
        assert events[-1].type == "execution.finished"
        assert events[-1].data["status"] == "succeeded"

        runtime.start()
        await until(lambda: run.execution_id in server.finished, what="the run's end to reach the orchestrator")
        said = _about(server.received, run.execution_id)
        assert said[0] == "execution.report"
        assert said.count("execution.report") == 1
        assert said[-1] == "job.finished"
        assert server.events[run.execution_id] == [e.seq for e in events]  # the whole journal, gapless
        assert all(run.execution_id not in {j.execution_id for j in h.running} for h in server.hellos)
        report = next(m for m in server.received if isinstance(m, ExecutionReport))
        assert (report.workflow_id, report.version, report.trigger, report.user_id) == (
            run.flow.workflow_id,
            3,
            HOTKEY,
            USER,
        )
        await until(lambda: runtime.outbox.job(run.execution_id) is None, what="the acknowledged run to be forgotten")
    finally:
        await runtime.stop()


async def test_a_report_whose_answer_was_lost_goes_out_again_after_a_reconnect(tmp_path: Path) -> None:
    server = ReportingOrchestrator()
    server.unanswered = 1  # the answer to the first report is lost with its connection
    runtime = make_runtime(tmp_path, server)
    try:
        run = start_attended(runtime, cached(tmp_path, wait_flow(2)), trigger=HOTKEY, user_id=USER)
        await run.wait()
        runtime.start()
        await until(lambda: len(server.reports) == 1, what="the report")
        await asyncio.sleep(0.1)
        assert not any(isinstance(m, JournalBatch) for m in server.received)  # no journal before the answer
        server.cut()
        await until(lambda: run.execution_id in server.finished, what="the run's end")
        assert [r.execution_id for r in server.reports] == [run.execution_id] * 2  # once per connection
        assert isinstance(server.finished[run.execution_id], JobFinished)
    finally:
        await runtime.stop()


async def test_an_orchestrator_of_version_4_leaves_the_run_and_its_report_in_the_outbox(tmp_path: Path) -> None:
    server = Version4Orchestrator()
    runtime = make_runtime(tmp_path, server)
    runtime.start()
    try:
        await until(lambda: server.ready.is_set(), what="a connection in version 4")
        assert runtime.protocol_version == 4
        run = start_attended(runtime, cached(tmp_path, wait_flow(2)), trigger={"type": "tray"}, user_id=USER)
        await run.wait()
        await asyncio.sleep(0.3)  # heartbeats go on; nothing of the run goes out
        assert _about(server.received, run.execution_id) == []
        record = runtime.outbox.job(run.execution_id)
        assert record is not None
        assert record.finished
        assert record.acked_seq == 0
    finally:
        await runtime.stop()


async def test_a_refused_report_keeps_the_journal_here_and_sends_none_of_it(tmp_path: Path) -> None:
    server = ReportingOrchestrator()
    server.refuse = "user 2d3e… (role viewer) may not start executions"
    runtime = make_runtime(tmp_path, server)
    runtime.start()
    try:
        run = start_attended(runtime, cached(tmp_path, wait_flow(2)), trigger=HOTKEY, user_id=USER)
        await run.wait()
        await until(lambda: runtime.outbox.job(run.execution_id) is None, what="the ended, refused run to be dropped")
        assert _about(server.received, run.execution_id) == ["execution.report"]
        assert not any(isinstance(m, JournalBatch) for m in server.received)
    finally:
        await runtime.stop()


async def test_pause_holds_at_the_next_step_boundary_and_resume_goes_on_where_it_stopped(tmp_path: Path) -> None:
    server = ReportingOrchestrator()
    runtime = make_runtime(tmp_path, server)
    try:
        run = start_attended(runtime, cached(tmp_path, wait_flow(6, 0.05)), trigger=HOTKEY, user_id=USER)

        def started() -> list[str]:
            return [e.path for e in runtime.outbox.events(run.execution_id) if e.type == "node.started"]

        await until(lambda: len(started()) >= 2, what="two steps started")
        run.pause()
        await until(lambda: run.gate.held_at is not None, what="the pause to hold")
        held = run.gate.held_at
        before = started()
        assert held not in before  # it holds before the node, which has not started
        await asyncio.sleep(0.3)  # six steps' worth of time: nothing starts while paused
        assert started() == before
        assert run.running

        run.resume()
        await run.wait()
        events = runtime.outbox.events(run.execution_id)
        assert [e.path for e in events if e.type == "node.started"] == [f"s{i}" for i in range(6)]  # each once
        notes = [(e.data["kind"], e.data["before"]) for e in events if e.type == "node.note"]
        assert notes == [("paused", held), ("resumed", held)]
        assert events[-1].data["status"] == "succeeded"
    finally:
        await runtime.stop()


def _flow_with_finally() -> dict[str, Any]:
    body = {"nodes": [{"id": "long", "type": "core.wait", "params": {"seconds": 30}}], "edges": []}
    cleanup = {"nodes": [{"id": "cleanup", "type": "test.effect", "params": {"seconds": 0}}], "edges": []}
    return {
        "schema": "rpa.flow/1",
        "name": "Cleans up",
        "nodes": [{"id": "work", "type": "control.try", "body": body, "finally": cleanup}],
        "edges": [],
    }


async def test_stop_ends_the_run_cancelled_after_its_finally_body_ran(tmp_path: Path) -> None:
    server = ReportingOrchestrator()
    runtime = make_runtime(tmp_path, server)
    try:
        run = start_attended(runtime, cached(tmp_path, _flow_with_finally()), trigger=HOTKEY, user_id=USER)
        await until(
            lambda: any(e.path == "work/long" for e in runtime.outbox.events(run.execution_id)),
            what="the long step to start",
        )
        assert run.stop()
        await asyncio.wait_for(run.wait(), 10)
        events = runtime.outbox.events(run.execution_id)
        cleanup = [e.type for e in events if e.path == "work/cleanup"]
        assert cleanup == ["node.started", "node.succeeded"]
        assert events[-1].type == "execution.finished"
        assert events[-1].data["status"] == "cancelled"
    finally:
        await runtime.stop()


async def test_stop_of_a_paused_run_ends_it_cancelled(tmp_path: Path) -> None:
    server = ReportingOrchestrator()
    runtime = make_runtime(tmp_path, server)
    try:
        run = start_attended(runtime, cached(tmp_path, wait_flow(4, 0.05)), trigger=HOTKEY, user_id=USER)
        run.pause()
        await until(lambda: run.gate.held_at is not None, what="the pause to hold")
        assert run.stop()
        await asyncio.wait_for(run.wait(), 10)
        assert runtime.outbox.events(run.execution_id)[-1].data["status"] == "cancelled"
    finally:
        await runtime.stop()


async def test_a_run_left_by_a_killed_agent_resumes_where_it_stopped(tmp_path: Path) -> None:
    from agent.attended import resume_attended

    server = ReportingOrchestrator()
    first = make_runtime(tmp_path, server)
    run = start_attended(first, cached(tmp_path, wait_flow(8, 0.05)), trigger=HOTKEY, user_id=USER)
    await until(
        lambda: sum(e.type == "node.succeeded" for e in first.outbox.events(run.execution_id)) >= 3,
        what="three steps done",
    )
    await first.stop()  # the process goes: the journal stays open in the outbox, as after a kill -9

    again = make_runtime(tmp_path, server)  # the same agent home
    try:
        resumed = resume_attended(again)
        assert [r.execution_id for r in resumed] == [run.execution_id]
        assert resumed[0].trigger == HOTKEY
        await asyncio.wait_for(resumed[0].wait(), 10)
        events = again.outbox.events(run.execution_id)
        done = [e.path for e in events if e.type == "node.succeeded"]
        assert done == [f"s{i}" for i in range(8)]  # every step completed once, in order
        assert events[-1].data["status"] == "succeeded"
        again.start()  # and it is reported once a connection comes
        await until(lambda: run.execution_id in server.finished, what="the run's end to be reported")
        assert _about(server.received, run.execution_id)[0] == "execution.report"
    finally:
        await again.stop()


ACTIONS: list[int] = []


class _ActionsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(description="How many actions.")


@step("test.actions", params=_ActionsParams, output="How many actions ran.")
def _actions(params: _ActionsParams) -> int:
    """A long step of many actions with a checkpoint between them, as desktop.type_text has."""
    for index in range(params.count):
        context().checkpoint()
        ACTIONS.append(index)
        time.sleep(0.02)
    return params.count


async def test_pause_holds_a_long_step_between_its_actions_and_resume_goes_on(tmp_path: Path) -> None:
    from tests.agent.memory_orchestrator import registry as base_registry

    ACTIONS.clear()
    server = ReportingOrchestrator()
    runtime = make_runtime(tmp_path, server)
    steps = base_registry()
    steps.add([_actions])
    runtime.jobs.local_registry = steps
    document = {
        "schema": "rpa.flow/1",
        "name": "Types",
        "nodes": [{"id": "type", "type": "test.actions", "params": {"count": 40}}],
    }
    try:
        run = start_attended(runtime, cached(tmp_path, document), trigger=HOTKEY, user_id=USER)
        await until(lambda: len(ACTIONS) >= 5, what="some actions")
        run.pause()
        await asyncio.sleep(0.15)  # the action under way ends, then it holds
        held = len(ACTIONS)
        await asyncio.sleep(0.3)
        assert len(ACTIONS) == held < 40  # nothing more while paused, inside the step
        run.resume()
        await asyncio.wait_for(run.wait(), 10)
        assert list(range(40)) == ACTIONS  # each action once, in order: it went on where it held
        assert runtime.outbox.events(run.execution_id)[-1].data["status"] == "succeeded"
    finally:
        await runtime.stop()
