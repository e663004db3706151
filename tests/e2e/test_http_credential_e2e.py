"""A vault credential used by an `http.request` step through the real agent path: the
orchestrator delivers it with the job, the agent's step sends it to a server that requires
it, and it appears in none of the journal, the agent's log, the orchestrator's log or the
agent's files (outbox included).

The flow names the credential only in a step param (`auth.credential`), never in a template:
the orchestrator finds it through the param's `x-rpa-credential` mark, checks the flow may use it
and sends it with the job.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.steps.http.server import LoopbackSite
from tests.e2e._cluster import Agent, Orchestrator

pytestmark = pytest.mark.slow


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    server = LoopbackSite()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def flow(url: str) -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": "Call the API",
        "nodes": [
            {
                "id": "by_name",
                "type": "http.request",
                "params": {"url": url, "auth": {"kind": "bearer", "credential": "api"}},
            },
        ],
        "edges": [],
        "outputs": {"status": "{{ steps.by_name.output.status }}", "body": "{{ steps.by_name.output.json }}"},
    }


def _files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_vault_credential_reaches_the_server_and_nothing_else(tmp_path: Path, site: LoopbackSite) -> None:
    secret = f"tok-{uuid.uuid4().hex}"
    site.bearer_token = secret
    orchestrator = Orchestrator(tmp_path)
    try:
        orchestrator.start()
        orchestrator.setup_owner()
        orchestrator.login()
        orchestrator.api("POST", "/credentials", json={"name": "api", "kind": "token", "value": {"token": secret}})
        workflow = orchestrator.publish(flow(f"{site.url}/bearer"))
        agent = Agent(tmp_path, orchestrator, "alpha")
        try:
            agent.start()
            agent.wait_online()
            execution = orchestrator.start_execution(workflow)
            done = orchestrator.wait_state(execution, {"succeeded", "failed"})
            events = orchestrator.events(execution)
        finally:
            agent.stop()
    finally:
        orchestrator.stop()

    assert done["state"] == "succeeded", done
    assert done["outputs"] == {"status": 200, "body": {"ok": True}}
    # Control: the server really received the credential.
    sent = [hit["headers"].get("authorization") for hit in site.seen["/bearer"]]
    assert sent == [f"Bearer {secret}"]

    assert secret not in str(events)
    assert secret not in str(done)
    assert _files_containing(tmp_path, secret.encode()) == []
    assert agent.log.exists()
    assert any(p.name.endswith(".db") or "outbox" in p.name for p in agent.home.rglob("*"))
