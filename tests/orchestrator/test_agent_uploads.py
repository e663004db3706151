"""Agents upload artifacts with their own key: streamed, size-limited, only for executions they
hold. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from orchestrator.runtime.enrolment import create_enrolment_token, enroll
from orchestrator.services.audit import Actor
from orchestrator.settings import Settings
from tests.orchestrator._execution_helpers import make_workflow
from tests.orchestrator.conftest import TenantFactory

API = "/api/v1"


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
        max_artifact_bytes=1000,
    )


async def _agent(app: FastAPI, org_id: uuid.UUID, name: str) -> tuple[uuid.UUID, str]:
    async with app.state.db.transaction() as session:
        _, token = await create_enrolment_token(session, Actor(None, "test"), org_id)
        agent, key = await enroll(session, token, name=name)
        return agent.id, key


async def _held_by(app: FastAPI, client: Any, headers: dict[str, str], org_id: uuid.UUID, agent_id: uuid.UUID) -> str:
    workflow = await make_workflow(app, org_id)
    made = await client.post(
        f"{API}/executions", headers=headers, json={"workflow_id": str(workflow), "inputs": {"customer": "acme"}}
    )
    assert made.status_code == 201, made.text
    from orchestrator.models.executions import Execution

    async with app.state.db.transaction() as session:
        execution = await session.get(Execution, uuid.UUID(made.json()["id"]))
        assert execution is not None
        execution.agent_id = agent_id  # as the dispatcher would have
    return str(made.json()["id"])


async def test_an_agent_uploads_to_its_execution_and_users_download_it(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    agent_id, key = await _agent(app, owner.org_id, "uploader")
    execution = await _held_by(app, client, owner.headers, owner.org_id, agent_id)
    body = b"id,total\n1,42\n"
    put = await client.put(
        f"{API}/agents/me/artifacts/{execution}",
        params={"name": "report/out.csv"},
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
    )
    assert put.status_code == 201, put.text
    assert put.json()["size"] == len(body)
    listing = await client.get(f"{API}/executions/{execution}/artifacts", headers=owner.headers)
    assert [a["name"] for a in listing.json()["items"]] == ["report/out.csv"]
    got = await client.get(f"{API}/executions/{execution}/artifacts/{put.json()['id']}", headers=owner.headers)
    assert got.content == body


async def test_uploads_are_refused_without_a_key_for_others_and_past_the_limit(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    holder, key = await _agent(app, owner.org_id, "holder")
    _, other_key = await _agent(app, owner.org_id, "other")
    stranger_org = await tenant()
    _, stranger_key = await _agent(app, stranger_org.org_id, "stranger")
    execution = await _held_by(app, client, owner.headers, owner.org_id, holder)
    url = f"{API}/agents/me/artifacts/{execution}"

    anonymous = await client.put(url, params={"name": "a"}, content=b"x")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert "agent key" in anonymous.json()["error"]["message"]
    as_user = await client.put(url, params={"name": "a"}, content=b"x", headers=owner.headers)
    assert as_user.status_code == 401
    for intruder in (other_key, stranger_key):
        refused = await client.put(
            url, params={"name": "a"}, content=b"x", headers={"Authorization": f"Bearer {intruder}"}
        )
        assert refused.status_code == 404
    too_big = await client.put(
        url, params={"name": "big"}, content=b"y" * 1001, headers={"Authorization": f"Bearer {key}"}
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "too_large"
    listing = await client.get(f"{API}/executions/{execution}/artifacts", headers=owner.headers)
    assert listing.json()["items"] == []
    store = Path(app.state.settings.data_dir) / "artifacts"
    assert not [p for p in store.rglob("*") if p.is_file()]  # nothing half-written is left
