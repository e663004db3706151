"""The files of an attended run that ended offline reach the orchestrator once it is back, through
the upload route (`PUT /agents/me/artifacts/{id}`), exactly once, even when the agent restarted in
between. A real orchestrator in-process (uvicorn on 127.0.0.1) and the agent's real WebSocket."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

from agent.attended import CachedFlow, start_attended
from agent.cli import ENROLL_PATH
from agent.runtime import AgentConfig, AgentRuntime
from shared.steps import context, step
from tests.agent.memory_orchestrator import registry, until, wait_flow
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import TenantFactory, app, settings, sqlite_template, tenant

__all__ = ["app", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here


@pytest.fixture
def database_url() -> None:
    """SQLite only: what is tested is the agent's side of the upload route."""
    return None


class _ReceiptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="What the receipt says.")


@step("test.receipt", params=_ReceiptParams, output="The artifact.", effects=False)
def _receipt(params: _ReceiptParams) -> dict[str, Any]:
    return context().save_artifact("receipt.txt", params.text)


def _runtime(home: Path, url: str, key: str) -> AgentRuntime:
    steps = registry()
    steps.add([_receipt])
    config = AgentConfig(url=url, key=key, name="desk-7", home=home, backoff_min_s=0.05, backoff_max_s=0.2)
    return AgentRuntime(config, registry=steps)


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once closed


async def test_an_offline_runs_artifact_is_uploaded_once_back_even_after_a_restart(
    tmp_path: Path, live: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    token = (await live.post("/api/v1/agents/enrolment-tokens", json={}, headers=owner.headers)).json()["token"]
    body = {"token": token, "name": "desk-7", "hostname": "desk-7", "labels": [], "version": "1"}
    key = (await live.post(ENROLL_PATH, json=body)).json()["agent_key"]
    created = await live.post(
        "/api/v1/workflows", json={"name": "Receipts", "document": wait_flow(1)}, headers=owner.headers
    )
    workflow_id = created.json()["id"]
    assert (await live.post(f"/api/v1/workflows/{workflow_id}/publish", headers=owner.headers)).is_success
    document = {
        "schema": "rpa.flow/1",
        "name": "Receipts",
        "nodes": [{"id": "keep", "type": "test.receipt", "params": {"text": "paid 12.50"}}],
        "edges": [],
    }
    home = tmp_path / "agent"

    offline = _runtime(home, _closed_port(), key)  # the orchestrator cannot be reached
    offline.start()
    try:
        trigger = {"type": "hotkey", "hotkey": "Ctrl+Alt+Shift+R"}
        run = start_attended(
            offline, CachedFlow(workflow_id, 1, "Receipts", document), trigger=trigger, user_id=str(owner.user_id)
        )
        await run.wait()
        assert offline.outbox.events(run.execution_id)[-1].data["status"] == "succeeded"
        assert offline.jobs.uploads.pending() == [run.execution_id]  # kept to send
    finally:
        await offline.stop()  # the agent restarts before the orchestrator is reachable

    online = _runtime(home, str(live.base_url), key)
    assert online.jobs.uploads.pending() == [run.execution_id]
    online.start()
    try:
        await until(lambda: not online.jobs.uploads.pending(), within=20, what="the pending upload to be sent")
        listed = await live.get("/api/v1/artifacts", params={"execution_id": run.execution_id}, headers=owner.headers)
        assert [a["name"] for a in listed.json()["items"]] == ["keep/receipt.txt"]
        online.jobs.uploads.flush_soon()  # nothing left: nothing sent again
        assert await online.jobs.uploads.flush() == 0
        execution = (await live.get(f"/api/v1/executions/{run.execution_id}", headers=owner.headers)).json()
        assert execution["state"] == "succeeded"
        listed = await live.get("/api/v1/artifacts", params={"execution_id": run.execution_id}, headers=owner.headers)
        assert len(listed.json()["items"]) == 1
    finally:
        await online.stop()
