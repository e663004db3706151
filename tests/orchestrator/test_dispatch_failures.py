"""A dispatch pass that raises and a batch whose commit fails: the agent slots the pass took come
back, no `job.assign` leaves for work that was not committed, and no start is lost (a start is
either stored and answered 201, or refused and not stored)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models.executions import Execution
from orchestrator.runtime.dispatch import Dispatcher
from orchestrator.settings import Settings
from tests.orchestrator._execution_helpers import make_workflow
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.test_dispatch import FakeAgent, eventually, flow, get_once, start

API = "/api/v1"


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
    )


def fail_next_commits(app: FastAPI, count: int = 1, *, with_a_start: bool = False) -> list[int]:
    """Make the next `count` transactions of the writers (only those that store a start, if
    `with_a_start`) fail at their commit, after all their work (the batch's units and the dispatch
    pass) ran; returns the list of failures left."""
    db, writer = app.state.db, app.state.start_writer
    real, write_starts = db.write_transaction, writer._write_batch
    left = [count]
    starts: list[int] = []

    async def note_starts(session: AsyncSession, units: list[Any]) -> list[Any]:
        starts.append(len(units))
        return await write_starts(session, units)

    @asynccontextmanager
    async def failing() -> AsyncIterator[AsyncSession]:
        starts.clear()
        async with real() as session:
            yield session
            if left[0] > 0 and (starts or not with_a_start):
                left[0] -= 1
                raise OSError("the disk is full")  # inside the transaction: it is rolled back

    db.write_transaction = failing
    writer._write_batch = note_starts
    return left


async def stored(app: FastAPI, org_id: uuid.UUID) -> int:
    async with app.state.db.transaction() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Execution).where(Execution.org_id == org_id)) or 0
        )


async def test_a_pass_that_raises_gives_back_its_slot_and_the_start_is_still_stored_and_dispatched(
    app: FastAPI, client: Any, tenant: TenantFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("raises"))
    agent = FakeAgent(app, owner.org_id, "one-slot", max_jobs=1).connect()
    real = Dispatcher._journal_of
    raised: list[uuid.UUID] = []

    async def journal_of_raising_once(self: Dispatcher, session: AsyncSession, execution: Any) -> Any:
        if not raised:  # after the slot was taken (`link.hold`): the pass must give it back
            raised.append(execution.id)
            raise RuntimeError("the pass broke")
        return await real(self, session, execution)

    monkeypatch.setattr(Dispatcher, "_journal_of", journal_of_raising_once)

    execution = await start(client, owner.headers, workflow)  # 201: the batch is written without the pass

    assert raised == [uuid.UUID(execution)]
    await eventually(lambda: agent.assigned == [execution])  # the next pass, 0.5 s later, takes it
    assert (await get_once(client, owner.headers, execution, "assigned"))["state"] == "assigned"
    assert list(agent.link.running) == [uuid.UUID(execution)]
    assert agent.link.dispatched == 1
    assert await stored(app, owner.org_id) == 1


async def test_a_commit_that_fails_gives_back_the_slots_of_its_pass_and_sends_nothing(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("commit-fails"))
    execution = await start(client, owner.headers, workflow)  # stored; no agent yet
    left = fail_next_commits(app)

    agent = FakeAgent(app, owner.org_id, "one-slot", max_jobs=1).connect()  # the pass runs, its commit fails

    await eventually(lambda: agent.assigned)
    assert left == [0]  # the first pass was rolled back ...
    assert agent.assigned == [execution]  # ... and sent nothing: one job.assign, from the pass that committed
    assert list(agent.link.running) == [uuid.UUID(execution)]
    assert agent.link.dispatched == 1
    assert (await get_once(client, owner.headers, execution, "assigned"))["state"] == "assigned"


async def test_a_start_whose_commit_fails_is_refused_not_stored_and_the_next_one_goes_out(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("start-fails"))
    agent = FakeAgent(app, owner.org_id, "one-slot", max_jobs=1).connect()
    left = fail_next_commits(app, with_a_start=True)

    # As a server answers it: the error body goes out, the exception is not raised into the caller.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as server:
        refused = await server.post(f"{API}/executions", json={"workflow_id": str(workflow)}, headers=owner.headers)

    assert refused.status_code == 500, refused.text
    assert refused.json()["error"]["code"] == "internal"
    assert "disk" not in refused.text
    assert left == [0]
    assert await stored(app, owner.org_id) == 0
    assert agent.sent == []
    assert agent.link.free == 1  # the pass of that batch gave its slot back
    assert agent.link.dispatched == 0

    execution = await start(client, owner.headers, workflow)
    await eventually(lambda: agent.assigned == [execution])
    assert await stored(app, owner.org_id) == 1
