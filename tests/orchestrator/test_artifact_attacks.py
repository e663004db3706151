"""An agent key holder's artifacts against a real `rpa orchestrator`: a page planted as an artifact,
and uploads past the execution's and the organisation's quotas. Each with its control first."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from tests.orchestrator._execution_helpers import flow
from tests.orchestrator._live import Live, live_server

API = "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(
        tmp_path_factory.mktemp("artifacts"),
        owner=True,
        max_artifact_bytes_per_execution="3000",
        max_artifact_bytes_per_org="5000",
    ) as live:
        yield live


def _agent_key(server: Live, owner: dict[str, str]) -> tuple[str, str]:
    token = httpx.post(f"{server.url}{API}/agents/enrolment-tokens", json={}, headers=owner).json()["token"]
    enrolled = httpx.post(f"{server.url}{API}/agents/enroll", json={"token": token, "name": "uploader"}).json()
    return str(enrolled["agent_id"]), str(enrolled["agent_key"])


def _execution_held_by(server: Live, owner: dict[str, str], agent_id: str) -> str:
    name = f"Artifacts {uuid.uuid4().hex[:6]}"
    workflow = httpx.post(
        f"{server.url}{API}/workflows", json={"name": name, "document": flow(name)}, headers=owner
    ).json()
    assert (
        httpx.post(f"{server.url}{API}/workflows/{workflow['id']}/publish", json={}, headers=owner).status_code == 201
    )
    started = httpx.post(
        f"{server.url}{API}/executions",
        headers=owner,
        json={"workflow_id": workflow["id"], "inputs": {"customer": "acme"}},
    )
    assert started.status_code == 201, started.text
    execution = str(started.json()["id"])
    # As the dispatcher would have: the execution is the agent's (no agent process is needed).
    with closing(sqlite3.connect(server.data / "orchestrator.db", timeout=30)) as db, db:
        db.execute(
            "UPDATE executions SET agent_id = ? WHERE id = ?", (uuid.UUID(agent_id).hex, uuid.UUID(execution).hex)
        )
    return execution


def _upload(
    server: Live, key: str, execution: str, body: bytes, content_type: str, name: str = "out.bin"
) -> httpx.Response:
    return httpx.put(
        f"{server.url}{API}/agents/me/artifacts/{execution}",
        params={"name": name},
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )


def test_artifacts_are_served_as_safe_attachments_and_kept_within_quotas(server: Live) -> None:
    owner = server.login()
    agent_id, key = _agent_key(server, owner)
    execution = _execution_held_by(server, owner, agent_id)

    control = _upload(server, key, execution, b"id,total\n" + b"1,42\n" * 198, "text/csv", "report.csv")
    assert control.status_code == 201, control.text
    assert control.json()["content_type"] == "text/csv"  # allowlisted: kept
    csv = httpx.get(f"{server.url}{API}/executions/{execution}/artifacts/{control.json()['id']}", headers=owner)
    assert csv.headers["content-type"].startswith("text/csv")

    page = _upload(
        server, key, execution, b"<script>fetch('/api/v1/auth/sessions')</script>", "text/html", "report.html"
    )
    assert page.status_code == 201, page.text
    assert page.json()["content_type"] == "application/octet-stream"
    served = httpx.get(f"{server.url}{API}/executions/{execution}/artifacts/{page.json()['id']}", headers=owner)
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"].startswith("attachment")
    svg = _upload(server, key, execution, b"<svg onload=alert(1)/>", "image/svg+xml; charset=utf-8")
    assert svg.json()["content_type"] == "application/octet-stream"

    # The execution's quota (3000 bytes) holds about 1,090 already: 2,000 more is refused whole.
    over = _upload(server, key, execution, b"x" * 2000, "application/octet-stream")
    assert over.status_code == 413, over.text
    assert over.json()["error"]["code"] == "too_large"
    left = 3000 - sum(
        a["size"]
        for a in httpx.get(f"{server.url}{API}/executions/{execution}/artifacts", headers=owner).json()["items"]
    )
    assert _upload(server, key, execution, b"x" * left, "application/octet-stream").status_code == 201
    full = _upload(server, key, execution, b"x", "application/octet-stream")
    assert full.status_code == 413
    assert full.json()["error"]["code"] == "artifact_quota"
    assert full.json()["error"]["details"]["scope"] == "execution"

    # The organisation's quota (5000 bytes): a second execution fills the rest, then nothing more.
    second = _execution_held_by(server, owner, agent_id)
    assert _upload(server, key, second, b"y" * 2000, "application/octet-stream").status_code == 201
    refused = _upload(server, key, second, b"y", "application/octet-stream")
    assert refused.status_code == 413
    assert refused.json()["error"]["details"]["scope"] == "organisation"
