"""Orchestrator and agents as real processes over real sockets: dispatch, journal streaming,
and what happens when an agent dies mid-run.

Every scenario checks the same three things on the stored journal: it is gapless (no event
lost), no completed node instance ran again, and the outputs equal those of an uninterrupted
run.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.supervise import RPA
from tests.e2e._cluster import Agent, Orchestrator, completed_twice, gapless, invocations, wait_for

pytestmark = pytest.mark.slow


def batch_flow(name: str = "Batch", items: int = 10, pause_s: float = 0.3, *, probe: bool = False) -> dict[str, Any]:
    """A loop of waits that counts what it processed: long enough to be killed in the middle.
    With `probe`, each iteration's step is `probe.count`, which records every real invocation."""
    if probe:
        flow = batch_flow(name, items, pause_s)
        flow["nodes"][0]["body"]["nodes"][0].update(type="probe.count")
        return flow
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "inputs": {"items": {"type": "integer", "default": items}, "pause_s": {"type": "number", "default": pause_s}},
        "variables": {"processed": 0},
        "nodes": [
            {
                "id": "batch",
                "type": "control.foreach",
                "params": {"items": "{{ range(inputs.items) | list }}", "collect": "{{ steps.work.output }}"},
                "body": {
                    "nodes": [
                        {
                            "id": "work",
                            "type": "core.wait",
                            "params": {"seconds": "{{ inputs.pause_s }}"},
                            "set": {"processed": "{{ vars.processed + 1 }}"},
                        }
                    ]
                },
            },
            {
                "id": "report",
                "type": "data.template",
                "params": {"template": "{{ vars.processed }} items for {{ execution.id | default('?') }}"},
            },
        ],
        "edges": [{"from": "batch", "to": "report"}],
        "outputs": {"processed": "{{ vars.processed }}", "iterations": "{{ steps.batch.output | length }}"},
    }


@pytest.fixture
def orchestrator(tmp_path: Path) -> Iterator[Orchestrator]:
    server = Orchestrator(tmp_path)
    try:
        server.start()
        server.setup_owner()
        yield server
    finally:
        server.stop()


@pytest.fixture
def agents(tmp_path: Path, orchestrator: Orchestrator) -> Iterator[list[Agent]]:
    made: list[Agent] = []
    try:
        yield made
    finally:
        for agent in made:
            agent.stop()


def _agent(tmp_path: Path, orchestrator: Orchestrator, agents: list[Agent], name: str, **kwargs: Any) -> Agent:
    agent = Agent(tmp_path, orchestrator, name, **kwargs)
    agents.append(agent)
    agent.start()
    agent.wait_online()
    return agent


def test_an_execution_is_dispatched_run_and_its_journal_stored(
    tmp_path: Path, orchestrator: Orchestrator, agents: list[Agent]
) -> None:
    workflow = orchestrator.publish(batch_flow(items=3, pause_s=0.05))
    waiting = orchestrator.start_execution(workflow)
    assert orchestrator.execution(waiting)["waiting_reason"] == "no agent of the organisation is online"

    agent = _agent(tmp_path, orchestrator, agents, "alpha")
    done = orchestrator.wait_state(waiting, {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    assert done["outputs"] == {"processed": 3, "iterations": 3}
    assert done["agent_id"] == agent.agent_id
    events = orchestrator.events(waiting)
    assert gapless(events)
    assert events[-1]["type"] == "execution.finished"
    assert orchestrator.api("GET", f"/agents/{agent.agent_id}")["status"] == "online"
    assert done["attempt"] == 1
    log = agent.log.read_text()
    assert "lost or refused" not in log, log  # one connection throughout: nothing was refused
    assert "ERROR" not in log, log

    # The live view replays the stored journal, then says how it ended.
    replay = orchestrator.stream(waiting)
    assert [data["seq"] for kind, data in replay if kind == "journal"] == [e["seq"] for e in events]
    assert replay[-1] == ("end", {"state": "succeeded", "last_seq": len(events)})


def test_the_live_view_follows_a_running_execution_to_its_end(
    tmp_path: Path, orchestrator: Orchestrator, agents: list[Agent]
) -> None:
    _agent(tmp_path, orchestrator, agents, "alpha")
    execution = orchestrator.start_execution(orchestrator.publish(batch_flow(items=4, pause_s=0.3)))
    orchestrator.wait_state(execution, {"running"})
    live = orchestrator.stream(execution, follow=True)
    seqs = [data["seq"] for kind, data in live if kind == "journal"]
    assert seqs == list(range(1, len(seqs) + 1))
    assert live[-2][1]["type"] == "execution.finished"
    assert live[-1][0] == "end"
    assert live[-1][1]["state"] == "succeeded"


def test_a_killed_agent_is_replaced_and_nothing_completed_runs_twice(
    tmp_path: Path, orchestrator: Orchestrator, agents: list[Agent]
) -> None:
    reference = orchestrator.start_execution(orchestrator.publish(batch_flow("Reference", items=6, pause_s=0.05)))
    first = _agent(tmp_path, orchestrator, agents, "first")
    expected = orchestrator.wait_state(reference, {"succeeded"})["outputs"]

    workflow = orchestrator.publish(batch_flow(items=10, pause_s=0.3, probe=True))
    execution = orchestrator.start_execution(workflow, inputs={"items": 6})
    wait_for(
        lambda: sum(e["type"] == "iteration.finished" for e in orchestrator.events(execution)) >= 2,
        30,
        "two iterations to be journaled",
    )
    first.kill()
    killed_at = time.monotonic()
    second = _agent(tmp_path, orchestrator, agents, "second")
    done = orchestrator.wait_state(execution, {"succeeded", "failed"}, timeout=60)
    assert done["state"] == "succeeded", done
    assert done["agent_id"] == second.agent_id
    assert done["attempt"] == 2
    assert done["outputs"] == expected
    events = orchestrator.events(execution)
    assert gapless(events)
    assert completed_twice(events) == []
    assert time.monotonic() - killed_at < 30
    # Outside the journal: each iteration's step ran once, except the one the kill interrupted
    # (at least once: it ran again with the same idempotency key).
    ran = {key: n for key, n in invocations(tmp_path).items() if key.startswith(execution)}
    assert sorted(ran) == [f"{execution}/batch[{i}]/work" for i in range(6)]
    assert sum(n > 1 for n in ran.values()) <= 1
    assert set(invocations(tmp_path, by_agent=True).values()) == {1}  # no agent ran anything twice
    finished_before_kill = [e["path"] for e in events if e["type"] == "node.succeeded" and e["seq"] < events[-1]["seq"]]
    for path in finished_before_kill:
        if path.endswith("/work") and ran[f"{execution}/{path}"] > 1:
            interrupted = [e for e in events if e["path"] == path and e["type"] == "node.started"]
            assert len(interrupted) == 2  # started, killed before it was journaled as done, started again


def test_files_an_execution_leaves_are_uploaded_and_downloadable(
    tmp_path: Path, orchestrator: Orchestrator, agents: list[Agent]
) -> None:
    big = {
        "schema": "rpa.flow/1",
        "name": "Big output",
        "nodes": [{"id": "make", "type": "data.template", "params": {"template": "{{ 'x' * 300000 }}"}}],
        "outputs": {"size": "{{ steps.make.output | length }}"},
    }
    _agent(tmp_path, orchestrator, agents, "alpha")
    execution = orchestrator.start_execution(orchestrator.publish(big))
    assert orchestrator.wait_state(execution, {"succeeded", "failed"})["outputs"] == {"size": 300000}
    listing = wait_for(
        lambda: orchestrator.api("GET", f"/executions/{execution}/artifacts")["items"], 30, "the artifact upload"
    )
    assert len(listing) == 1
    artifact = listing[0]
    assert artifact["size"] > 300000
    import httpx

    download = httpx.get(
        f"{orchestrator.url}/api/v1/executions/{execution}/artifacts/{artifact['id']}",
        headers={"Authorization": f"Bearer {orchestrator.client.access_token}"},
    )
    assert download.status_code == 200
    assert download.content.count(b"x") >= 300000


def test_cancel_reaches_the_running_agent_and_a_revoked_agent_is_cut_off(
    tmp_path: Path, orchestrator: Orchestrator, agents: list[Agent]
) -> None:
    agent = _agent(tmp_path, orchestrator, agents, "alpha")
    execution = orchestrator.start_execution(orchestrator.publish(batch_flow(items=50, pause_s=0.2)))
    wait_for(
        lambda: sum(e["type"] == "iteration.finished" for e in orchestrator.events(execution)) >= 1,
        30,
        "the batch to start",
    )
    asked = time.monotonic()
    assert orchestrator.api("POST", f"/executions/{execution}/cancel", json={"reason": "enough"})["state"] == "running"
    done = orchestrator.wait_state(execution, {"cancelled", "succeeded", "failed"}, timeout=20)
    assert done["state"] == "cancelled"
    assert time.monotonic() - asked < 3  # the agent stopped it: no need for the forced cancel (3 s here)
    events = orchestrator.events(execution)
    assert events[-1]["type"] == "execution.finished"
    assert events[-1]["data"]["status"] == "cancelled"
    assert gapless(events)

    revoked = orchestrator.api("POST", f"/agents/{agent.agent_id}/revoke")
    assert revoked["status"] == "revoked"
    later = orchestrator.start_execution(orchestrator.publish(batch_flow("After revoke", items=1, pause_s=0.01)))
    time.sleep(2)  # the agent keeps trying to reconnect, and is refused each time
    assert orchestrator.execution(later)["state"] == "queued"
    assert orchestrator.execution(later)["waiting_reason"] == "no agent of the organisation is online"
    assert orchestrator.api("GET", f"/agents/{agent.agent_id}")["status"] == "revoked"
    assert agent.running  # still trying: the refusal, not a crash, keeps it out


def test_a_rotated_key_cuts_the_agent_off_until_the_new_key_is_installed_on_its_machine(
    tmp_path: Path, orchestrator: Orchestrator, agents: list[Agent]
) -> None:
    agent = _agent(tmp_path, orchestrator, agents, "alpha")
    rotated = orchestrator.api("POST", f"/agents/{agent.agent_id}/rotate-key")
    wait_for(
        lambda: orchestrator.api("GET", f"/agents/{agent.agent_id}")["status"] == "offline",
        10,
        "the connection opened with the old key to be closed",
    )
    waiting = orchestrator.start_execution(orchestrator.publish(batch_flow("After rotation", items=1, pause_s=0.01)))
    time.sleep(2)  # the agent reconnects with the old key, and is refused each time
    assert orchestrator.execution(waiting)["state"] == "queued"
    assert agent.running

    wrong = subprocess.run(
        [RPA, "agent", "set-key", "--key-file", str(agent.key_file)],
        input="rpa_ak_nonsense\n",
        capture_output=True,
        text=True,
        env=agent.env,
        timeout=60,
    )
    assert wrong.returncode == 2
    assert "error: that is not an agent key" in wrong.stderr
    installed = subprocess.run(
        [RPA, "agent", "set-key", "--key-file", str(agent.key_file)],
        input=rotated["agent_key"] + "\n",
        capture_output=True,
        text=True,
        env=agent.env,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    assert rotated["agent_key"] not in installed.stdout + installed.stderr

    # The running agent reads the stored key again before it reconnects: no restart.
    done = orchestrator.wait_state(waiting, {"succeeded", "failed"}, timeout=30)
    assert done["state"] == "succeeded", done
    assert done["agent_id"] == agent.agent_id
    log = agent.log.read_text()
    assert "the agent key stored on this machine changed" in log
    assert rotated["agent_key"] not in log
    assert rotated["agent_key"].split("_", 3)[3] not in log
