"""The credential attack against a real orchestrator and agent over real sockets: a designer who
may write, publish and start flows, but whom credential x does not allow, tries to read it
through `{{ secrets.x | upper }}`, which goes past any masker. The control is the owner's run of
the same flow, which works, records the credential it used, and masks the upper-cased value."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._cluster import API, Agent, Orchestrator

pytestmark = pytest.mark.slow

PASSWORD = "Designer-Test-42-Robots!"


def leaking_flow(name: str) -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "nodes": [{"id": "leak", "type": "data.template", "params": {"template": "{{ secrets.x | upper }}"}}],
        "edges": [],
        "outputs": {"out": "{{ steps.leak.output }}"},
    }


@pytest.fixture
def orchestrator(tmp_path: Path) -> Iterator[Orchestrator]:
    server = Orchestrator(tmp_path)
    try:
        server.start()
        server.setup_owner()
        server.login()
        yield server
    finally:
        server.stop()


def test_a_designer_cannot_read_a_credential_through_a_transformation(
    tmp_path: Path, orchestrator: Orchestrator
) -> None:
    secret = f"tok-{uuid.uuid4().hex}"
    orchestrator.api("POST", "/credentials", json={"name": "x", "kind": "token", "value": {"token": secret}})
    email = f"designer-{uuid.uuid4().hex[:6]}@example.com"
    orchestrator.api("POST", "/users", json={"email": email, "password": PASSWORD, "role": "designer"})
    designer = httpx.Client(base_url=orchestrator.url + API, timeout=30)
    login = designer.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    designer.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

    # Control: the owner's run, on a real agent.
    workflow = orchestrator.publish(leaking_flow("Owner's"))
    agent = Agent(tmp_path, orchestrator, "alpha")
    try:
        agent.start()
        agent.wait_online()
        execution = orchestrator.start_execution(workflow)
        done = orchestrator.wait_state(execution, {"succeeded", "failed"})
    finally:
        agent.stop()
    assert done["state"] == "succeeded", done
    assert done["credentials"] == ["x"]
    assert done["outputs"] == {"out": "***"}
    assert secret.upper() not in str(orchestrator.events(execution))

    # Attack: the same document, written, published and started by the designer.
    created = designer.post("/workflows", json={"name": "Mine", "document": leaking_flow("Mine")})
    assert created.status_code == 201, created.text
    published = designer.post(f"/workflows/{created.json()['id']}/publish", json={})
    assert published.status_code == 403, published.text
    error = published.json()["error"]
    assert error["code"] == "credential_not_allowed"
    assert "credential 'x'" in error["message"]
    assert "leak: params.template" in error["message"]
    started = designer.post("/executions", json={"workflow_id": workflow})
    assert started.status_code == 403, started.text
    assert started.json()["error"]["code"] == "credential_not_allowed"
    designer.close()
