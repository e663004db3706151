"""The organisation's AI budget holds across orchestrator processes sharing one database.

Two app instances on the same database (the SQLite file, and PostgreSQL) take concurrent
requests of one organisation: together they admit exactly `ai_requests_per_minute`; each
instance alone would have admitted that many with the per-process limiter this replaced.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.app import create_app
from orchestrator.models.ai import AiUsage
from orchestrator.settings import Settings
from tests.fakes.anthropic_server import FakeAnthropic, text
from tests.orchestrator._identity_helpers import error_code
from tests.orchestrator._vault_helpers import create as create_credential
from tests.orchestrator.conftest import Member, TenantFactory

API = "/api/v1"
KEY = "sk-ant-org-key-shared-0a1b2c"
PER_MINUTE = 3
FLOW = {"schema": "rpa.flow/1", "name": "Wait", "nodes": [{"id": "w", "type": "core.wait", "params": {"seconds": 1}}]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(keys={KEY}) as server:
        server.handler = lambda _request: text(json.dumps(FLOW))
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeAnthropic) -> Settings:
    fake.reset()
    return settings.model_copy(
        update={"ai_base_url": fake.url, "ai_requests_per_minute": PER_MINUTE, "ai_max_retries": 0}
    )


@pytest.fixture
async def second(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another orchestrator process on the same database: its own app, engine and connections."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def owner(tenant: TenantFactory, client: httpx.AsyncClient) -> Member:
    member = await tenant()
    await create_credential(client, member.headers, "anthropic", "token", {"token": KEY})
    return member


async def test_two_instances_admit_the_organisations_budget_once(
    app: FastAPI, client: httpx.AsyncClient, second: httpx.AsyncClient, owner: Member, fake: FakeAnthropic
) -> None:
    async def ask(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(f"{API}/ai/flows", headers=owner.headers, json={"description": "wait"})

    # Concurrent requests, alternating between the two instances.
    responses = await asyncio.gather(*(ask(client if i % 2 else second) for i in range(4 * PER_MINUTE)))

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == PER_MINUTE, [r.text for r in responses if r.status_code not in (200, 429)]
    assert statuses.count(429) == 3 * PER_MINUTE
    assert {error_code(r) for r in responses if r.status_code == 429} == {"ai_rate_limited"}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 429)
    assert len(fake.requests) == PER_MINUTE  # refused requests never reached the model
    # Each admitted request left one completed usage row; the refused ones left none.
    async with app.state.db.transaction() as session:
        outcomes = (await session.scalars(select(AiUsage.outcome).where(AiUsage.org_id == owner.org_id))).all()
    assert sorted(outcomes) == ["valid"] * PER_MINUTE
    # A later request on either instance is still refused within the minute.
    assert (await ask(second)).status_code == 429
    assert (await ask(client)).status_code == 429


async def test_the_budget_survives_a_restart_of_the_instance(
    settings: Settings, client: httpx.AsyncClient, owner: Member
) -> None:
    for _ in range(PER_MINUTE):
        ok = await client.post(f"{API}/ai/flows", headers=owner.headers, json={"description": "wait"})
        assert ok.status_code == 200, ok.text
    restarted = create_app(settings)  # a new process: no memory of the requests above
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted, client=("127.0.0.1", 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            refused = await http.post(f"{API}/ai/flows", headers=owner.headers, json={"description": "wait"})
    assert refused.status_code == 429
    assert error_code(refused) == "ai_rate_limited"
