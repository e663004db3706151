"""`client.credentials`, `client.agents`, `client.enrolment_tokens` and `client.ai` against a real
orchestrator (the AI model on the local Messages-API stand-in)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from orchestrator.services.execution_states import State
from orchestrator.settings import Settings
from shared.client import ApiClient, ApiError
from tests.fakes.anthropic_server import FakeAnthropic, text
from tests.orchestrator._execution_helpers import make_execution, make_workflow
from tests.orchestrator.conftest import Member
from tests.shared.client._executions import failed_execution
from tests.shared.client.conftest import call

KEY = "sk-ant-org-key-0c1d2e3f4a5b"
SECRET = "Erp-Password-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(keys={KEY}) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeAnthropic) -> Settings:
    fake.reset()
    return settings.model_copy(update={"ai_base_url": fake.url, "ai_max_retries": 0})


async def test_credentials_are_kept_without_their_values_coming_back(api: ApiClient) -> None:
    created = await call(
        api.credentials.create,
        "erp",
        "username_password",
        {"username": "robot", "password": SECRET},
        description="ERP login",
        metadata={"team": "finance"},
    )
    assert (created.name, created.kind, created.description, created.metadata) == (
        "erp",
        "username_password",
        "ERP login",
        {"team": "finance"},
    )
    assert SECRET not in created.model_dump_json()
    await call(api.credentials.create, "api", "token", {"token": "t-1"})
    assert await call(api.credentials.names) == ["api", "erp"]
    assert [c.name for c in (await call(api.credentials.list, kind="token")).items] == ["api"]
    assert (await call(api.credentials.get, created.id)).name == "erp"
    updated = await call(api.credentials.update, created.id, description="ERP robot")
    assert updated.description == "ERP robot"
    rotated = await call(api.credentials.rotate, created.id, {"username": "robot", "password": "new-one"})
    assert rotated.rotated_at is not None
    with pytest.raises(ApiError) as caught:
        await call(api.credentials.create, "erp", "token", {"token": "x"})
    assert caught.value.status == 409
    with pytest.raises(ApiError) as caught:
        await call(api.credentials.create, "bad", "token", {})  # a token without its value
    assert caught.value.status == 422
    await call(api.credentials.delete, created.id)
    assert await call(api.credentials.names) == ["api"]


async def test_agents_and_enrolment_tokens(api: ApiClient) -> None:
    assert (await call(api.agents.list)).total == 0
    made = await call(api.enrolment_tokens.create, labels=["finance"], expires_in_s=600, description="laptop")
    assert made.token.startswith("rpa_et_")
    assert made.token not in repr(made)
    listed = await call(api.enrolment_tokens.list, state="active")
    assert [(t.id, t.labels, t.description) for t in listed.items] == [(made.id, ["finance"], "laptop")]
    await call(api.enrolment_tokens.revoke, made.id)
    assert [t.state for t in (await call(api.enrolment_tokens.list)).items] == ["revoked"]
    enrolled = await call(
        api.request,
        "POST",
        "/agents/enroll",
        json={"token": (await call(api.enrolment_tokens.create)).token, "name": "r1"},
    )
    agent = await call(api.agents.get, enrolled["agent_id"])
    assert (agent.name, agent.status) == ("r1", "offline")
    renamed = await call(api.agents.update, agent.id, name="robot-1", labels=["eu"], max_jobs=2)
    assert (renamed.name, renamed.labels, renamed.max_jobs) == ("robot-1", ["eu"], 2)
    assert [a.name for a in (await call(api.agents.list, label="eu")).items] == ["robot-1"]
    assert (await call(api.agents.revoke, agent.id)).status == "revoked"
    with pytest.raises(ApiError) as caught:
        await call(api.agents.get, "00000000-0000-4000-8000-000000000000")
    assert (caught.value.status, caught.value.code) == (404, "not_found")


async def test_ai_builds_a_flow_and_diagnoses_only_a_failed_execution(
    api: ApiClient, app: FastAPI, owner: Member, fake: FakeAnthropic
) -> None:
    await call(api.credentials.create, "anthropic", "token", {"token": KEY})
    flow = {
        "schema": "rpa.flow/1",
        "name": "Pause",
        "nodes": [{"id": "pause", "type": "core.wait", "params": {"seconds": 1}}],
    }
    fake.push(text(json.dumps(flow), input_tokens=100, output_tokens=20))
    proposal = await call(api.ai.build_flow, "wait a second")
    assert proposal.flow == flow
    assert (proposal.attempts, proposal.usage.input_tokens, proposal.usage.output_tokens) == (1, 100, 20)

    workflow_id = await make_workflow(app, owner.org_id)
    queued = await make_execution(app, owner.org_id, workflow_id, state=State.QUEUED)
    with pytest.raises(ApiError) as caught:
        await call(api.ai.diagnose, str(queued))
    assert (caught.value.status, caught.value.code) == (409, "not_failed")

    failed = await failed_execution(app, owner.org_id, workflow_id)
    patch = [{"op": "replace", "path": "/nodes/0/params/seconds", "value": 1}]
    fake.push(text(json.dumps({"explanation": "The wait is too short.", "patch": patch}), output_tokens=30))
    diagnosis = await call(api.ai.diagnose, failed)
    assert (diagnosis.execution_id, diagnosis.explanation, diagnosis.patch) == (failed, "The wait is too short.", patch)
    assert diagnosis.failed_node["id"] == "wait"
    assert diagnosis.flow["nodes"][0]["params"]["seconds"] == 1


async def test_the_dashboard_counts_the_period_s_executions(api: ApiClient) -> None:
    figures = await call(api.dashboard, bucket="hour")
    assert figures["agents"]["online"] == 0
    assert sum(sum(bucket["counts"].values()) for bucket in figures["buckets"]) == 0
    with pytest.raises(ApiError) as refused:
        await call(api.dashboard, bucket="week")
    assert refused.value.status == 422
