"""An outbox that cannot be written, mid-run. The fault is real SQLite: the outbox's own connection
is swapped for one opened read-only (`file:…?mode=ro`), so every write fails in SQLite as it does
on a read-only file ("attempt to write a readonly database"); putting the writable connection
back is the disk becoming writable again. (tests/e2e/test_agent_faults_e2e.py fills a real disk.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.outbox import Outbox
from agent.runtime import AgentConfig, AgentRuntime
from shared.protocol import JobAccepted, JobAssign, JobRejected
from tests.agent import memory_orchestrator as memory
from tests.agent.memory_orchestrator import MemoryOrchestrator, effect_flow, until, wait_flow


@contextmanager
def read_only(outbox: Outbox) -> Iterator[None]:
    with outbox._lock:
        writable = outbox._db
        outbox._db = sqlite3.connect(
            f"file:{outbox.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    try:
        yield
    finally:
        with outbox._lock:
            outbox._db.close()
            outbox._db = writable


async def test_a_job_that_cannot_be_journaled_is_handed_back_and_the_agent_recovers_by_itself(tmp_path: Path) -> None:
    server = MemoryOrchestrator(lease_s=10.0)
    home = tmp_path / ("h" * 200) / ("o" * 200)  # named in the reason: longer than a heartbeat carries
    runtime = AgentRuntime(
        AgentConfig(
            url="http://memory",
            key="rpa_ak_test",
            name="laptop",
            home=home,
            backoff_min_s=0.01,
            backoff_max_s=0.05,
            health_probe_s=0.05,
        ),
        registry=memory.registry(),
        connector=server.connector,
    )
    runtime.start()
    try:
        await server.assign(JobAssign(execution_id="e1", attempt=1, flow=effect_flow(400, 0.005)))
        await until(lambda: len(server.events.get("e1", [])) >= 10, what="the first events")  # control
        with read_only(runtime.outbox):
            await until(lambda: server.rejected, what="the job to be handed back")
            rejected = server.rejected[0]
            assert rejected.execution_id == "e1"
            assert "could not write its journal (attempt to write a readonly database)" in rejected.reason
            assert "e1" not in server.finished
            # Handed back only once every event on disk was in: the orchestrator resumes from there.
            assert server.events["e1"] == list(range(1, len(server.events["e1"]) + 1))
            problem = runtime.status().problem
            assert problem is not None
            assert "outbox cannot be written (attempt to write a readonly database)" in problem
            await until(
                lambda: any(b.unhealthy == problem[:500] for b in server.heartbeats()), what="an unhealthy beat"
            )
            await server.assign(JobAssign(execution_id="e2", attempt=1, flow=wait_flow(2)))
            await until(lambda: len(server.rejected) == 2, what="the next job to be refused")
            assert (server.rejected[1].execution_id, server.rejected[1].reason) == ("e2", problem)
            assert not runtime.tasks
        # The disk is writable again: the agent notices by itself, says so, and takes jobs again.
        await until(lambda: runtime.status().problem is None, what="the agent to recover")
        beats = len(server.heartbeats())
        await until(
            lambda: len(server.heartbeats()) > beats and server.heartbeats()[-1].unhealthy is None,
            what="a healthy beat",
        )
        await server.assign(JobAssign(execution_id="e3", attempt=1, flow=wait_flow(2)))
        await until(lambda: "e3" in server.finished, what="a new job to run")
        assert server.finished["e3"].status == "succeeded"
        assert any(isinstance(m, JobAccepted) and m.execution_id == "e3" for m in server.received)
        assert not [m for m in server.received if isinstance(m, JobRejected) and m.execution_id == "e3"]
        await until(lambda: runtime.outbox.job("e1") is None, what="the handed-back job to be forgotten")
    finally:
        await runtime.stop()
