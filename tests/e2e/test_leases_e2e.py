"""The lease an agent can rely on, over a real socket to a real orchestrator: it is told in
`welcome` and every `heartbeat.ack` (protocol 3), and its execution is handed on no sooner than
the lease plus the margin after the last word the orchestrator sent it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._cluster import API, Orchestrator, wait_for
from tests.e2e.test_dispatch_e2e import batch_flow

pytestmark = pytest.mark.slow

GRACE_S = 1.0
MARGIN_S = 3.0  # longer than the reaper could be late, so that a requeue at the grace alone is seen


def test_the_lease_is_told_and_an_execution_moves_only_after_it_and_the_margin(tmp_path: Path) -> None:
    from websockets.sync.client import connect

    server = Orchestrator(tmp_path, grace_s=GRACE_S)
    server.env["RPA_LEASE_MARGIN_S"] = str(MARGIN_S)
    try:
        server.start()
        server.setup_owner()
        token = server.enrolment_token()
        key = httpx.post(f"{server.url}{API}/agents/enroll", json={"token": token, "name": "raw"}).json()["agent_key"]
        url = server.url.replace("http://", "ws://") + f"{API}/agents/connect"
        hello: dict[str, Any] = {
            "type": "hello",
            "id": "h1",
            "protocol_version": 3,
            "name": "raw",
            "version": "1",
            "capabilities": [],
            "labels": [],
            "max_jobs": 1,
            "steps": [],
            "running": [],
        }
        workflow = server.publish(batch_flow("Leased", items=1, pause_s=0.01))
        with connect(url, additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=10) as ws:
            ws.send(json.dumps(hello))
            welcome = json.loads(ws.recv(timeout=10))
            assert (welcome["type"], welcome["lease_s"]) == ("welcome", GRACE_S)
            ws.send(json.dumps({"type": "heartbeat", "id": "b1", "running": [], "sent_at": time.time()}))
            ack = json.loads(ws.recv(timeout=10))
            assert (ack["type"], ack["ref"], ack["lease_s"]) == ("heartbeat.ack", "b1", GRACE_S)

            execution = server.start_execution(workflow)
            while (job := json.loads(ws.recv(timeout=10)))["type"] != "job.assign":
                pass
            assert job["execution_id"] == execution
            ws.send(json.dumps({"type": "job.accepted", "id": "a1", "execution_id": execution, "attempt": 1}))
            server.wait_state(execution, {"running"})
            # The last word from the orchestrator, then silence: the agent is gone (it would fence
            # itself GRACE_S after it sent its last heartbeat, whose answer came after that).
            ws.send(json.dumps({"type": "heartbeat", "id": "b2", "running": [execution], "sent_at": time.time()}))
            while json.loads(ws.recv(timeout=10)).get("ref") != "b2":
                pass
            last_word = time.monotonic()
        wait_for(
            lambda: server.execution(execution)["state"] == "queued", 30, "the execution to be requeued", interval=0.05
        )
        handed_on_after = time.monotonic() - last_word
        # A lower bound only (a loaded machine can make the requeue later, never earlier).
        assert handed_on_after >= GRACE_S + MARGIN_S, handed_on_after
        moves = server.api("GET", f"/executions/{execution}/transitions")["items"]
        assert "more than its lease (1 s) and the margin (3 s)" in moves[-2]["reason"]
    finally:
        server.stop()
