"""The parts the app's lifespan makes (agent hub, dispatcher, caches, signing key) reach routes
through `api/deps.py`; one that is missing is an error that names it, never a quiet answer as if
no agent were connected."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from orchestrator.api.deps import started
from tests.orchestrator._execution_helpers import make_workflow
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.test_dispatch import flow

API = "/api/v1"


async def test_without_the_hub_an_execution_and_the_agents_are_not_answered_as_if_none_were_online(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("needs-a-hub"))
    started_ = await client.post(f"{API}/executions", json={"workflow_id": str(workflow)}, headers=owner.headers)
    assert started_.status_code == 201, started_.text
    execution = started_.json()["id"]
    control = await client.get(f"{API}/executions/{execution}", headers=owner.headers)
    assert control.status_code == 200
    assert control.json()["waiting_reason"] == "no agent of the organisation is online"

    hub = app.state.agent_hub
    del app.state.agent_hub
    try:
        with pytest.raises(RuntimeError, match=r"app\.state\.agent_hub is missing"):
            await client.get(f"{API}/executions/{execution}", headers=owner.headers)
        with pytest.raises(RuntimeError, match=r"app\.state\.agent_hub is missing"):
            await client.get(f"{API}/agents", headers=owner.headers)
    finally:
        app.state.agent_hub = hub


def test_started_names_the_missing_part() -> None:
    app = FastAPI()
    app.state.dispatcher = marker = object()
    assert started(app, "dispatcher") is marker
    with pytest.raises(RuntimeError, match=r"app\.state\.auth_cache is missing: .*lifespan"):
        started(app, "auth_cache")
