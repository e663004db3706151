"""Fencing, in memory: an agent that hears nothing from the orchestrator for the lease starts no
step with outside effects, connects again, and goes on once the welcome says the execution is
still its own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from agent.runtime import AgentConfig, AgentRuntime
from agent.runtime._fence import Fence, has_outside_effects
from shared.protocol import JobAssign
from shared.steps import StepRegistry
from tests.agent import memory_orchestrator as memory
from tests.agent.memory_orchestrator import MemoryOrchestrator, effect_flow, until

LEASE_S = 0.5


def _runtime(tmp_path: Path, server: MemoryOrchestrator) -> AgentRuntime:
    return AgentRuntime(
        AgentConfig(
            url="http://memory",
            key="rpa_ak_test",
            name="laptop",
            home=tmp_path / "agent",
            backoff_min_s=0.01,
            backoff_max_s=0.05,
        ),
        registry=memory.registry(),
        connector=server.connector,
    )


async def test_no_step_with_outside_effects_starts_after_the_lease_while_the_orchestrator_is_silent(
    tmp_path: Path,
) -> None:
    memory.STARTS.clear()
    server = MemoryOrchestrator(heartbeat_interval_s=0.05, lease_s=LEASE_S)
    runtime = _runtime(tmp_path, server)
    runtime.start()
    try:
        await server.assign(JobAssign(execution_id="e1", attempt=1, flow=effect_flow(200, 0.01)))
        await until(lambda: len(memory.STARTS) >= 5, what="the first steps")  # control: steps run
        server.silent = True  # frozen: nothing answered, nothing acknowledged
        silent_from = time.monotonic()
        await until(lambda: runtime.status().fenced, within=5, what="the agent to fence itself")
        await asyncio.sleep(3 * LEASE_S)
        late = [(key, at - silent_from) for key, at in memory.STARTS if at > silent_from + LEASE_S]
        assert late == [], "steps started after the lease ran out"
        assert len(server.hellos) >= 2  # it connected again to learn whether e1 is still its own
        assert [j.execution_id for j in server.hellos[-1].running] == ["e1"]
        server.silent = False  # the orchestrator answers again, and e1 is still this agent's
        count = len(memory.STARTS)
        await until(lambda: "e1" in server.finished, within=30, what="the run to finish")
        assert len(memory.STARTS) > count
        assert server.finished["e1"].status == "succeeded"
        keys = [key for key, _ in memory.STARTS]
        assert len(keys) == len(set(keys)) == 200  # and nothing ran twice
    finally:
        await runtime.stop()


async def test_a_stopped_execution_waiting_at_the_fence_never_starts_its_step(tmp_path: Path) -> None:
    memory.STARTS.clear()
    server = MemoryOrchestrator(heartbeat_interval_s=0.05, lease_s=LEASE_S)
    runtime = _runtime(tmp_path, server)
    runtime.start()
    try:
        await server.assign(JobAssign(execution_id="e1", attempt=1, flow=effect_flow(200, 0.01)))
        await until(lambda: len(memory.STARTS) >= 5, what="the first steps")
        server.silent = True
        await until(lambda: runtime.status().fenced, within=5, what="the agent to fence itself")
        server.welcome_fields = {"stop": ["e1"]}  # meanwhile the execution moved to another agent
        server.silent = False
        await until(lambda: runtime.outbox.job("e1") is None, within=10, what="e1 to be dropped")
        count = len(memory.STARTS)
        await asyncio.sleep(0.3)
        assert len(memory.STARTS) == count
        assert not runtime.tasks
    finally:
        await runtime.stop()


async def test_each_heartbeat_ack_renews_the_fence_with_the_lease_it_states(tmp_path: Path) -> None:
    server = MemoryOrchestrator(heartbeat_interval_s=0.05, lease_s=LEASE_S)
    runtime = _runtime(tmp_path, server)
    runtime.start()
    try:
        await until(lambda: server.connection is not None, what="the welcome")
        assert runtime.fence.lease_s == LEASE_S  # from welcome.lease_s
        assert server.connection is not None
        server.connection.lease_s = 2.0  # e.g. the orchestrator's grace changed: the acks say so
        await until(lambda: runtime.fence.lease_s == 2.0, within=5, what="an ack's lease")
        assert runtime.backoff.lease_s == 2.0
    finally:
        await runtime.stop()


def test_the_fence_counts_the_lease_from_when_the_acknowledged_message_was_sent() -> None:
    now = [100.0]
    fence = Fence(clock=lambda: now[0])
    assert not fence.is_open()  # nothing acknowledged yet
    fence.renew(sent_at=99.0, lease_s=10.0)  # open until 99 + 10 - 1 (the margin)
    now[0] = 107.9
    assert fence.is_open()
    now[0] = 108.0
    assert not fence.is_open()
    fence.renew(sent_at=98.0)  # an older answer never shortens it nor reopens it
    assert not fence.is_open()


def test_pure_steps_are_not_fenced_and_actions_are() -> None:
    steps = {d.name: d for d in StepRegistry.default(plugins=False)}
    assert not has_outside_effects(steps["core.wait"])
    assert not has_outside_effects(steps["data.template"])
    assert not has_outside_effects(steps["control.foreach"])
    assert has_outside_effects(memory.registry().get("test.effect"))


async def test_a_new_job_asks_for_a_heartbeat_only_when_the_fence_would_close_before_the_next_one(
    tmp_path: Path,
) -> None:
    # Beats every 60 s: a 300 s lease stays open past the next beat, a 1 s one does not.
    for lease_s, asked in ((300.0, False), (1.0, True)):
        server = MemoryOrchestrator(heartbeat_interval_s=60.0, lease_s=lease_s)
        runtime = _runtime(tmp_path / str(lease_s), server)
        runtime.start()
        try:
            await until(lambda: len(server.heartbeats()) == 1, what="the first beat")  # noqa: B023
            for number in range(2):
                await server.assign(JobAssign(execution_id=f"e{number}", attempt=1, flow=effect_flow(1)))
                await until(lambda: f"e{number}" in server.finished, what=f"e{number} to end")  # noqa: B023
            if asked:  # one per job at least (while jobs run, beats also come every third of the lease)
                assert len(server.heartbeats()) >= 3
            else:
                assert len(server.heartbeats()) == 1
        finally:
            await runtime.stop()
