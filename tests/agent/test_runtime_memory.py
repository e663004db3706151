"""The runtime's connection loop in memory: the agent's real code against
`shared.protocol.ServerConnection` over `memory_pair()`, no socket involved."""

from __future__ import annotations

from pathlib import Path

from agent.runtime import AgentConfig, AgentRuntime, RuntimeState, RuntimeStatus
from shared.protocol import JobAccepted, JobAssign
from tests.agent.memory_orchestrator import MemoryOrchestrator, until, wait_flow


def _runtime(tmp_path: Path, server: MemoryOrchestrator, **config: object) -> AgentRuntime:
    settings: dict[str, object] = {"backoff_min_s": 0.01, "backoff_max_s": 0.05, **config}
    return AgentRuntime(AgentConfig(url="http://memory", key="rpa_ak_test", name="laptop",
                                    home=tmp_path / "agent", **settings),  # type: ignore[arg-type]
                        connector=server.connector)


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
