"""The AI routes in-process, with the organisation's key in the vault and the model on the local
Messages-API stand-in: who may call them, their audit entries and usage rows, the per-organisation
rate limit, the one error body, that no secret of the execution reaches the model, and that both
paths are in the OpenAPI document."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.models.executions import ExecutionEvent
from orchestrator.services.execution_states import State, transition
from orchestrator.services.executions import get_execution
from orchestrator.settings import Settings
from tests.fakes.anthropic_server import FakeAnthropic, error, text
from tests.orchestrator._execution_helpers import SYSTEM, make_execution, make_workflow
from tests.orchestrator._identity_helpers import error_code
from tests.orchestrator._vault_helpers import create as create_credential
from tests.orchestrator._vault_helpers import reveal
from tests.orchestrator._workflows_helpers import audit_actions
from tests.orchestrator.conftest import Member, TenantFactory

API = "/api/v1"
KEY = "sk-ant-org-key-5a4b3c2d1e0f"
SECRET = "Erp-Password-7c6b5a49d8e7"
PER_MINUTE = 4


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(keys={KEY}) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeAnthropic) -> Settings:
    fake.reset()
    return settings.model_copy(
        update={"ai_base_url": fake.url, "ai_requests_per_minute": PER_MINUTE, "ai_max_retries": 0}
    )


@pytest.fixture
async def owner(tenant: TenantFactory, client: httpx.AsyncClient) -> Member:
    member = await tenant()
    await create_credential(client, member.headers, "anthropic", "token", {"token": KEY})
    return member


def a_flow(name: str = "Greeter") -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "nodes": [
            {"id": "login", "type": "vault.get", "params": {"name": "erp", "field": "password"}},
            {"id": "pause", "type": "core.wait", "params": {"seconds": 1}},
        ],
        "edges": [{"from": "login", "to": "pause"}],
    }


async def test_a_designer_gets_a_valid_flow_audited_and_counted(
    client: httpx.AsyncClient, app: FastAPI, owner: Member, tenant: TenantFactory, fake: FakeAnthropic
) -> None:
    designer = await tenant(org_id=owner.org_id, role="designer")
    await create_credential(client, owner.headers, "erp", "username_password", {"username": "u", "password": SECRET})
    flow = a_flow()
    fake.push(text("not json", input_tokens=900, output_tokens=10), text(json.dumps(flow), input_tokens=1000))

    response = await client.post(f"{API}/ai/flows", headers=designer.headers, json={"description": "log in, wait"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["flow"] == flow
    assert body["attempts"] == 2
    assert body["usage"]["input_tokens"] == 1900
    assert body["usage"]["cost_usd"] > 0
    assert fake.requests[0].api_key == KEY  # the organisation's key, from the vault
    assert "ai.flow" in await audit_actions(app, owner.org_id)
    usage = (await client.get(f"{API}/ai/usage", headers=owner.headers)).json()
    assert usage["input_tokens"] == 1900
    assert usage["items"][0]["feature"] == "flow"
    assert usage["items"][0]["requests"] == 1


async def test_who_may_ask(client: httpx.AsyncClient, owner: Member, tenant: TenantFactory) -> None:
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    operator = await tenant(org_id=owner.org_id, role="operator")
    for member in (viewer, operator):
        response = await client.post(f"{API}/ai/flows", headers=member.headers, json={"description": "x"})
        assert response.status_code == 403
        assert error_code(response) == "forbidden"
    assert (await client.post(f"{API}/ai/flows", json={"description": "x"})).status_code == 401


async def test_a_flow_that_never_validates_is_a_422_in_the_error_body_and_still_counted(
    client: httpx.AsyncClient, owner: Member, fake: FakeAnthropic
) -> None:
    broken = a_flow()
    broken["nodes"][1]["type"] = "core.sleep"
    fake.push(*(text(json.dumps(broken), input_tokens=100, output_tokens=50) for _ in range(3)))

    response = await client.post(f"{API}/ai/flows", headers=owner.headers, json={"description": "wait"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == "ai_invalid_answer"
    assert error["details"]["attempts"] == 3
    assert any(p["path"] == "$.nodes[1].type" for p in error["details"]["problems"])
    usage = (await client.get(f"{API}/ai/usage", headers=owner.headers)).json()
    assert (usage["input_tokens"], usage["output_tokens"]) == (300, 150)


async def test_tokens_spent_before_the_provider_fails_are_still_counted_and_audited(
    client: httpx.AsyncClient, app: FastAPI, owner: Member, fake: FakeAnthropic
) -> None:
    fake.push(text("no flow here", input_tokens=700, output_tokens=30), error(529))

    response = await client.post(f"{API}/ai/flows", headers=owner.headers, json={"description": "x"})

    assert response.status_code == 502
    assert error_code(response) == "ai_unavailable"
    assert KEY not in response.text
    usage = (await client.get(f"{API}/ai/usage", headers=owner.headers)).json()
    assert (usage["input_tokens"], usage["output_tokens"]) == (700, 30)
    assert "ai.flow" in await audit_actions(app, owner.org_id)


async def test_an_organisation_without_an_ai_credential_is_told_which_to_create(
    client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    member = await tenant()
    response = await client.post(f"{API}/ai/flows", headers=member.headers, json={"description": "x"})
    assert response.status_code == 409
    assert error_code(response) == "ai_not_configured"
    assert "'anthropic'" in response.json()["error"]["message"]


async def test_ai_requests_are_limited_per_organisation(
    client: httpx.AsyncClient, owner: Member, tenant: TenantFactory, fake: FakeAnthropic
) -> None:
    colleague = await tenant(org_id=owner.org_id, role="admin")
    fake.handler = lambda _request: text(json.dumps(a_flow()))
    try:
        for i in range(PER_MINUTE):
            member = owner if i % 2 else colleague  # two users, one organisation's budget
            response = await client.post(f"{API}/ai/flows", headers=member.headers, json={"description": "x"})
            assert response.status_code == 200, response.text
        limited = await client.post(f"{API}/ai/flows", headers=owner.headers, json={"description": "x"})
        other = await tenant()
        unaffected = await client.post(f"{API}/ai/flows", headers=other.headers, json={"description": "x"})
    finally:
        fake.handler = None
    assert limited.status_code == 429
    assert error_code(limited) == "ai_rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert len(fake.requests) == PER_MINUTE  # the refused one never reached the model
    assert error_code(unaffected) == "ai_not_configured"  # another organisation has its own budget


async def failed_execution(app: FastAPI, org_id: uuid.UUID) -> uuid.UUID:
    """An execution of `a_flow()` whose `pause` node failed; one journal event carries the `erp`
    credential's value in clear (as if a step had leaked it past the agent's masking)."""
    workflow_id = await make_workflow(app, org_id, document=a_flow("Diagnosed"))
    execution_id = await make_execution(app, org_id, workflow_id, inputs={}, state=State.RUNNING)
    await reveal(app, org_id, {"erp"})  # the dispatcher handed the value out for this run
    events = [
        ("node.started", "login", {"attempt": 1, "type": "vault.get"}),
        ("node.succeeded", "login", {"port": "out", "output": "***"}),
        ("log", "pause", {"level": "info", "message": f"waiting after login with {SECRET}"}),
        ("node.failed", "pause", {"attempt": 1, "will_retry": False, "error": {"message": "waited too long"}}),
    ]
    async with app.state.db.transaction() as session:
        for seq, (kind, path, data) in enumerate(events, start=1):
            session.add(
                ExecutionEvent(
                    execution_id=execution_id, seq=seq, org_id=org_id, type=kind, path=path, data=data, ts=0.0
                )
            )
        execution = await get_execution(session, org_id, execution_id)
        execution.error = {"message": "waited too long", "node": "pause"}
        execution.last_seq = execution.stored_seq = len(events)
        await transition(session, execution, State.FAILED, reason="test", actor=SYSTEM)
    return execution_id


async def test_diagnosis_proposes_a_patch_and_never_sends_a_secret(
    client: httpx.AsyncClient, app: FastAPI, owner: Member, tenant: TenantFactory, fake: FakeAnthropic
) -> None:
    await create_credential(client, owner.headers, "erp", "username_password", {"username": "u", "password": SECRET})
    execution_id = await failed_execution(app, owner.org_id)
    viewer = await tenant(org_id=owner.org_id, role="viewer")  # may read the execution, so may ask why it failed
    patch = [{"op": "replace", "path": "/nodes/1/params/seconds", "value": 0}]
    fake.push(text(json.dumps({"explanation": "The wait is too long.", "patch": patch}), output_tokens=40))

    response = await client.post(f"{API}/executions/{execution_id}/diagnose", headers=viewer.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["patch"] == patch
    assert body["flow"]["nodes"][1]["params"]["seconds"] == 0
    assert body["failed_node"] == {"path": "pause", "id": "pause", "type": "core.wait", "json_pointer": "/nodes/1"}
    assert body["version_number"] == 1
    [sent] = fake.requests
    assert SECRET not in json.dumps(sent.json)
    assert KEY not in json.dumps(sent.json)
    assert "waited too long" in sent.text()
    assert "execution.diagnose" in await audit_actions(app, owner.org_id, str(execution_id))
    usage = (await client.get(f"{API}/ai/usage", headers=owner.headers)).json()
    assert [row["feature"] for row in usage["items"]] == ["diagnose"]


async def test_only_a_failed_execution_of_ones_own_organisation_is_diagnosed(
    client: httpx.AsyncClient, app: FastAPI, owner: Member, tenant: TenantFactory, fake: FakeAnthropic
) -> None:
    workflow_id = await make_workflow(app, owner.org_id)
    queued = await make_execution(app, owner.org_id, workflow_id)
    response = await client.post(f"{API}/executions/{queued}/diagnose", headers=owner.headers)
    assert response.status_code == 409
    assert error_code(response) == "not_failed"
    stranger = await tenant()
    response = await client.post(f"{API}/executions/{queued}/diagnose", headers=stranger.headers)
    assert response.status_code == 404
    assert fake.requests == []


def test_both_routes_are_in_the_openapi_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert "post" in paths["/api/v1/ai/flows"]
    assert "post" in paths["/api/v1/executions/{execution_id}/diagnose"]
    assert "get" in paths["/api/v1/ai/usage"]
