"""A finished run an agent brings back after its execution was requeued and given to another agent
that had not started it yet: merged, not thrown away for a rerun. A real agent behind a cutting
proxy finishes every step while cut off; a second agent on a raw socket (it heartbeats, and never
starts what it is given) gets the requeued execution; the first agent comes back."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._cluster import API, invocations, wait_for
from tests.e2e.test_dispatch_e2e import batch_flow
from tests.e2e.test_faults_e2e import _behind_proxy, _check, _reference

pytestmark = pytest.mark.slow


class SlowStarter:
    """An agent on a raw socket that heartbeats and records what it is sent, and starts nothing."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "protocol_version": 3,
                    "name": "slow",
                    "version": "1",
                    "capabilities": [],
                    "labels": [],
                    "max_jobs": 1,
                    "steps": [],
                    "running": [],
                }
            )
        )
        self.received.append(json.loads(ws.recv(timeout=10)))
        self.stopped = threading.Event()
        for target in (self._beat, self._read):
            threading.Thread(target=target, daemon=True).start()

    def _beat(self) -> None:
        while not self.stopped.wait(0.2):
            try:
                self.ws.send(json.dumps({"type": "heartbeat", "running": [], "sent_at": time.time()}))
            except Exception:
                return

    def _read(self) -> None:
        while not self.stopped.is_set():
            try:
                self.received.append(json.loads(self.ws.recv(timeout=0.5)))
            except TimeoutError:
                continue
            except Exception:
                return

    def types(self, execution_id: str) -> list[str]:
        return [m["type"] for m in list(self.received) if m.get("execution_id") == execution_id]


def test_a_finished_run_brought_back_is_merged_when_the_next_agent_had_not_started_it(tmp_path: Path) -> None:
    from websockets.sync.client import connect

    items = 3
    with _behind_proxy(tmp_path, "laptop", grace_s=1.0) as (server, proxy, agent):
        expected = _reference(server, items=items)
        execution = server.start_execution(server.publish(batch_flow(pause_s=0.3, probe=True)), inputs={"items": items})
        wait_for(
            lambda: sum(e["type"] == "iteration.finished" for e in server.events(execution)) >= 1, 30, "one iteration"
        )
        token = server.enrolment_token()
        enrolled = httpx.post(f"{server.url}{API}/agents/enroll", json={"token": token, "name": "slow"}).json()
        url = server.url.replace("http://", "ws://") + f"{API}/agents/connect"
        with connect(
            url, additional_headers={"Authorization": f"Bearer {enrolled['agent_key']}"}, open_timeout=10
        ) as ws:
            slow = SlowStarter(ws)
            try:
                proxy.refusing = True  # the laptop is cut off past its lease and finishes the run meanwhile
                proxy.cut()
                wait_for(
                    lambda: sum(k.startswith(execution) for k in invocations(server.root)) == items,
                    20,
                    "the laptop to run every step",
                )
                wait_for(lambda: "job.assign" in slow.types(execution), 20, "the requeued run to go to the other agent")
                row = server.execution(execution)
                assert (row["state"], row["attempt"]) == ("assigned", 2)
                proxy.refusing = False  # back before the other agent started it
                done = _check(server, execution, expected, reruns=0)  # nothing ran again
                assert (done["agent_id"], done["attempt"]) == (agent.agent_id, 2)
                wait_for(lambda: "job.stop" in slow.types(execution), 10, "the other agent to be told to stop")
                moves = [t["reason"] for t in server.api("GET", f"/executions/{execution}/transitions")["items"]]
                assert any("came back with the run before the agent it was given to started it" in m for m in moves)
            finally:
                slow.stopped.set()
