"""Agent-side faults with real processes: a disk that fills up under the agent's outbox, an
orchestrator frozen (SIGSTOP) for longer than the lease while a long flow runs, and connections
cut at random moments (recorded seed) with the agent's real reconnect defaults and the real
10 s grace.
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.full_disk import fill, free, small_disk
from tests.e2e._cluster import Agent, Orchestrator, completed_twice, gapless, invocations, wait_for
from tests.e2e.test_dispatch_e2e import batch_flow
from tests.e2e.test_faults_e2e import CuttingProxy

pytestmark = pytest.mark.slow

STEP_MODULES = "tests.e2e.probe_steps:STEPS,tests.e2e.timed_steps:STEPS"


def _timed(server: Orchestrator) -> None:
    server.env["RPA_STEP_MODULES"] = STEP_MODULES


def _timed_agent(agent: Agent, root: Path) -> None:
    agent.env.update(RPA_STEP_MODULES=STEP_MODULES, RPA_TIMED_FILE=str(root / "timed.log"))


def _starts(root: Path) -> list[tuple[str, float]]:
    timed = root / "timed.log"
    lines = timed.read_text(encoding="utf-8").splitlines() if timed.exists() else []
    return [(key, float(at)) for key, at in (line.rsplit(" ", 1) for line in lines)]


def _timed_flow(items: int, seconds: float) -> dict[str, Any]:
    flow = batch_flow("Timed", items, seconds)
    flow["nodes"][0]["body"]["nodes"][0].update(type="probe.timed", params={"seconds": "{{ inputs.pause_s }}"})
    return flow


def _moves(server: Orchestrator, execution: str) -> list[tuple[str | None, str, str]]:
    items = server.api("GET", f"/executions/{execution}/transitions")["items"]
    return [(t["from_state"], t["to_state"], t["reason"]) for t in items]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Orchestrator, list[Agent]]]:
    server = Orchestrator(tmp_path, grace_s=2.0)
    agents: list[Agent] = []
    try:
        server.start()
        server.setup_owner()
        yield server, agents
    finally:
        for agent in agents:
            agent.stop()
        server.stop()


def test_a_full_disk_hands_the_job_back_with_the_reason_and_the_agent_recovers_by_itself(
    tmp_path: Path, cluster: tuple[Orchestrator, list[Agent]]
) -> None:
    server, agents = cluster
    with small_disk(tmp_path / "agent-full", size="8m") as disk:
        agent = Agent(tmp_path, server, "full")
        agents.append(agent)
        agent.start()
        agent.wait_online()
        execution = server.start_execution(
            server.publish(batch_flow(items=40, pause_s=0.1, probe=True)), inputs={"items": 40}
        )
        wait_for(
            lambda: sum(e["type"] == "iteration.finished" for e in server.events(execution)) >= 3,
            30,
            "three iterations",
        )  # control: it runs and journals
        fill(disk)
        wait_for(lambda: any(t == "lost" for _, t, _ in _moves(server, execution)), 30, "the job to be handed back")
        lost = next(reason for _, to, reason in _moves(server, execution) if to == "lost")
        assert "rejected it: the agent could not write its journal (database or disk is full" in lost
        wait_for(
            lambda: server.api("GET", f"/agents/{agent.agent_id}")["status"] == "busy", 10, "the agent to take no job"
        )  # its heartbeats say why; no free slot meanwhile
        assert server.execution(execution)["state"] == "queued"
        time.sleep(1.5)
        assert server.execution(execution)["state"] == "queued"  # not handed to it again and again
        assert "outbox cannot be written (database or disk is full)" in agent.log.read_text()
        free(disk)  # the disk has room again: the agent notices by itself and takes the job again
        done = server.wait_state(execution, {"succeeded", "failed"}, timeout=60)
        assert done["state"] == "succeeded", done
        assert done["outputs"]["processed"] == 40
        events = server.events(execution)
        assert gapless(events)
        assert completed_twice(events) == []
        ran = {k: n for k, n in invocations(tmp_path).items() if k.startswith(execution)}
        assert len(ran) == 40
        assert sum(n > 1 for n in ran.values()) <= 1  # at most the step the full disk interrupted
        assert "can be written again; taking jobs again" in agent.log.read_text()
        agent.stop()


def test_no_step_starts_while_the_orchestrator_is_frozen_past_the_lease(
    tmp_path: Path, cluster: tuple[Orchestrator, list[Agent]]
) -> None:
    server, agents = cluster  # lease = the grace, 2 s
    server.stop()
    _timed(server)
    server.start()
    server.login()
    agent = Agent(tmp_path, server, "steady")
    agents.append(agent)
    _timed_agent(agent, tmp_path)
    agent.start()
    agent.wait_online()
    execution = server.start_execution(server.publish(_timed_flow(120, 0.05)), inputs={"items": 120})
    wait_for(lambda: len(_starts(tmp_path)) >= 5, 30, "the first steps")  # control: steps run
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        time.sleep(6.0)
    finally:
        thawed_at = time.monotonic()
        server.process.send_signal(signal.SIGCONT)
    late = [(key, round(at - frozen_at, 3)) for key, at in _starts(tmp_path) if frozen_at + 2.0 < at < thawed_at]
    assert late == [], "steps started while the orchestrator had been silent for longer than the lease"
    before = [at for _, at in _starts(tmp_path) if at < frozen_at + 2.0]
    assert len(before) >= 5
    done = server.wait_state(execution, {"succeeded", "failed"}, timeout=90)
    assert done["state"] == "succeeded", done
    assert done["outputs"]["processed"] == 120
    assert gapless(server.events(execution))
    assert completed_twice(server.events(execution)) == []
    assert "starting no more steps" in agent.log.read_text()


CUT_SEED = 1207


def test_cuts_at_random_moments_with_the_real_defaults_never_cost_the_lease(tmp_path: Path) -> None:
    """The real grace (10 s) and the agent's real reconnect settings; cut moments drawn from a
    recorded seed, each after the connection had been up for a while: every reconnect starts from
    the first delay again, so the agent is always back long before the grace, and nothing runs twice."""
    rng = random.Random(CUT_SEED)
    server = Orchestrator(tmp_path, grace_s=10.0)
    proxy: CuttingProxy | None = None
    agent: Agent | None = None
    try:
        server.start()
        server.setup_owner()
        proxy = CuttingProxy(server.port)
        agent = Agent(tmp_path, server, "roaming", url=f"http://127.0.0.1:{proxy.port}")
        _timed_agent(agent, tmp_path)
        agent.start()
        agent.wait_online()
        execution = server.start_execution(
            server.publish(batch_flow(items=60, pause_s=0.4, probe=True)), inputs={"items": 60}
        )
        server.wait_state(execution, {"running"})
        for _ in range(4):
            time.sleep(rng.uniform(5.5, 6.5))  # up for longer than the 5 s that count as healthy
            proxy.cut()
        done = server.wait_state(execution, {"succeeded", "failed"}, timeout=90)
        assert done["state"] == "succeeded", done
        assert done["attempt"] == 1, f"seed {CUT_SEED}: the lease moved"
        ran = {k: n for k, n in invocations(tmp_path).items() if k.startswith(execution)}
        assert set(ran.values()) == {1}, f"seed {CUT_SEED}: {ran}"
        delays = [float(d) for d in re.findall(r"connecting again in ([0-9.]+) s", agent.log.read_text())]
        assert len(delays) >= 4, agent.log.read_text()[-2000:]
        assert max(delays) <= 0.2, f"seed {CUT_SEED}: {delays}"  # each time from the first delay again
    finally:
        if proxy is not None:
            proxy.close()
        if agent is not None:
            agent.stop()
        server.stop()
