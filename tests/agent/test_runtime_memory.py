"""The runtime's connection loop in memory: the agent's real code against
`shared.protocol.ServerConnection` over `memory_pair()`, no socket involved."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from agent.runtime import AgentConfig, AgentRuntime, RuntimeState, RuntimeStatus
from shared.protocol import JobAccepted, JobAssign, JobFinished, JobRejected, JournalBatch
from tests.agent import memory_orchestrator as memory
from tests.agent.memory_orchestrator import MemoryOrchestrator, effect_flow, until, wait_flow


def _runtime(tmp_path: Path, server: MemoryOrchestrator, **config: object) -> AgentRuntime:
    settings: dict[str, object] = {"backoff_min_s": 0.01, "backoff_max_s": 0.05, **config}
    return AgentRuntime(
        AgentConfig(url="http://memory", key="rpa_ak_test", name="laptop", home=tmp_path / "agent", **settings),  # type: ignore[arg-type]
        connector=server.connector,
    )


async def test_a_job_runs_and_its_journal_is_acknowledged_over_an_in_memory_connection(tmp_path: Path) -> None:
    server = MemoryOrchestrator()
    runtime = _runtime(tmp_path, server)
    seen: list[RuntimeStatus] = []
    runtime.subscribe(seen.append)
    runtime.start()
    try:
        await server.assign(JobAssign(execution_id="e1", attempt=1, flow=wait_flow(3)))
        await until(lambda: "e1" in server.finished, what="job.finished")
        assert server.finished["e1"].status == "succeeded"
        assert server.events["e1"] == list(range(1, server.finished["e1"].last_seq + 1))  # gapless
        assert any(isinstance(m, JobAccepted) for m in server.received)
        await until(lambda: runtime.outbox.job("e1") is None, what="the acknowledged job to be forgotten")
        assert runtime.status().state is RuntimeState.CONNECTED
        assert server.hellos[0].name == "laptop"
    finally:
        await runtime.stop()
    assert [s.state for s in seen][:2] == [RuntimeState.CONNECTING, RuntimeState.CONNECTED]
    assert runtime.status().state is RuntimeState.STOPPED


async def test_after_a_cut_the_agent_reconnects_and_reports_its_unfinished_job(tmp_path: Path) -> None:
    server = MemoryOrchestrator()
    runtime = _runtime(tmp_path, server)
    runtime.start()
    try:
        await server.assign(JobAssign(execution_id="e1", attempt=1, flow=wait_flow(40, 0.02)))
        await until(lambda: len(server.events.get("e1", [])) >= 3, what="the first events")
        server.cut()
        await until(lambda: len(server.hellos) == 2, what="a second hello")
        assert [(j.execution_id, j.attempt) for j in server.hellos[1].running] == [("e1", 1)]
        await until(lambda: "e1" in server.finished, what="job.finished")
        assert server.events["e1"] == list(range(1, server.finished["e1"].last_seq + 1))
    finally:
        await runtime.stop()


CUT_SEED = 20261207


async def test_cuts_at_random_moments_after_a_healthy_while_reconnect_at_once(tmp_path: Path) -> None:
    """Cut moments drawn from a recorded seed. A connection that stayed up `healthy_s` starts the
    delays again, even though every one of them ends in a cut (before, only a clean close did, and
    the delay doubled across healthy connections)."""
    rng = random.Random(CUT_SEED)
    server = MemoryOrchestrator()
    runtime = _runtime(tmp_path, server, backoff_min_s=0.01, backoff_max_s=2.0, healthy_s=0.2, backoff_seed=CUT_SEED)
    runtime.start()
    try:
        for cut in range(6):
            await until(lambda n=cut: len(server.hellos) == n + 1 and server.ready.is_set(), what="a connection")
            await asyncio.sleep(rng.uniform(0.25, 0.45))  # healthy for longer than healthy_s
            server.cut()
        await until(lambda: len(server.hellos) == 7, what="the last reconnect")
        assert max(runtime.backoff.delays) <= 0.01, (CUT_SEED, runtime.backoff.delays)
        for _ in range(5):  # now cut at once, again and again: the delay grows, never past the cap
            await until(lambda: server.ready.is_set(), what="a connection")
            server.cut()
            await asyncio.sleep(0)
        assert runtime.backoff.delays[-1] > 0.01, (CUT_SEED, runtime.backoff.delays)
        assert max(runtime.backoff.delays) <= 2.0
    finally:
        await runtime.stop()


async def test_the_reconnect_delay_stays_under_half_the_announced_lease(tmp_path: Path) -> None:
    server = MemoryOrchestrator(lease_s=0.2)
    runtime = _runtime(tmp_path, server, backoff_min_s=0.01, backoff_max_s=60.0, backoff_seed=CUT_SEED)
    runtime.start()
    try:
        for _ in range(12):
            await until(lambda: server.ready.is_set(), what="a connection")
            server.cut()
            await asyncio.sleep(0)
        await until(lambda: server.ready.is_set(), what="a connection")
        assert runtime.backoff.cap_s == 0.1
        assert max(runtime.backoff.delays) <= 0.1, runtime.backoff.delays
    finally:
        await runtime.stop()


async def test_a_run_that_ended_unheard_and_comes_back_under_a_new_attempt_is_sent_not_run_again(
    tmp_path: Path,
) -> None:
    memory.STARTS.clear()
    server = MemoryOrchestrator(lease_s=30.0)
    runtime = AgentRuntime(
        AgentConfig(url="http://memory", key="rpa_ak_test", name="laptop", home=tmp_path / "a"),
        registry=memory.registry(),
        connector=server.connector,
    )
    runtime.start()
    try:
        await until(server.ready.is_set, what="a connection")
        server.silent = True  # the orchestrator hears the run but stores nothing of it
        await server.assign(JobAssign(execution_id="e1", attempt=1, flow=effect_flow(6)))
        await until(lambda: any(isinstance(m, JobFinished) for m in server.received), what="the run to end")
        last = runtime.outbox.last_seq("e1")
        heard = [e for m in server.received if isinstance(m, JournalBatch) for e in m.events]
        server.silent = False  # requeued meanwhile with what it stored (three events) and given back
        await server.assign(JobAssign(execution_id="e1", attempt=2, flow=effect_flow(6), journal=heard[:3]))
        await until(lambda: "e1" in server.finished, what="job.finished")
        assert (server.finished["e1"].attempt, server.finished["e1"].status) == (2, "succeeded")
        assert not [m for m in server.received if isinstance(m, JobRejected)]
        assert server.events["e1"] == list(range(4, last + 1))  # the rest of the same run, nothing new
        assert server.finished["e1"].last_seq == last
        assert sorted(key for key, _ in memory.STARTS) == [f"e1/s{i}" for i in range(6)]  # each step ran once
    finally:
        await runtime.stop()
