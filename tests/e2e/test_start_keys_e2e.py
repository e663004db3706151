"""A start whose answer is lost, retried, over real sockets against a real orchestrator: the client
sends the request on a raw TCP connection and hangs up without reading the answer, then sends it
again. Without a key that is two executions; with an `Idempotency-Key` it is one."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._cluster import API, Orchestrator, wait_for
from tests.e2e.test_dispatch_e2e import batch_flow

pytestmark = pytest.mark.slow


def _send_and_hang_up(server: Orchestrator, body: dict[str, Any], headers: dict[str, str]) -> None:
    """POST a start and close the connection before the answer is read: the answer is lost."""
    payload = json.dumps(body).encode()
    lines = [
        f"POST {API}/executions HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + payload)
        raw.shutdown(socket.SHUT_WR)  # hang up: nothing of the answer is read


def _total(server: Orchestrator, workflow_id: str) -> int:
    return int(server.api("GET", "/executions", params={"workflow_id": workflow_id})["total"])


def test_a_retried_start_whose_answer_was_lost_is_stored_once(tmp_path: Path) -> None:
    server = Orchestrator(tmp_path)  # no agent: the executions wait in the queue, where they are counted
    try:
        server.start()
        server.setup_owner()
        auth = {"Authorization": f"Bearer {server.client.access_token}"}
        workflow = server.publish(batch_flow("Idempotent", items=1, pause_s=0.01))
        body = {"workflow_id": workflow, "inputs": {"items": 1}}

        # Control: without a key, the retry of a start whose answer was lost runs the work twice.
        _send_and_hang_up(server, body, auth)
        wait_for(lambda: _total(server, workflow) == 1, 20, "the first start to be stored")
        retried = httpx.post(f"{server.url}{API}/executions", json=body, headers=auth, timeout=10)
        assert retried.status_code == 201
        assert _total(server, workflow) == 2

        keyed = {**auth, "Idempotency-Key": "c0ffee-start-1"}
        _send_and_hang_up(server, body, keyed)
        wait_for(lambda: _total(server, workflow) == 3, 20, "the keyed start to be stored")
        retried = httpx.post(f"{server.url}{API}/executions", json=body, headers=keyed, timeout=10)
        assert retried.status_code == 201, retried.text
        assert retried.headers["idempotent-replayed"] == "true"
        assert _total(server, workflow) == 3  # the retry stored nothing
        listed = server.api("GET", "/executions", params={"workflow_id": workflow, "limit": 10})["items"]
        assert retried.json()["id"] in {item["id"] for item in listed}
    finally:
        server.stop()
