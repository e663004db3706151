"""Group commit of agent reports: units from many connections share one transaction, in arrival
order, and a unit that fails is rolled back alone (the others are written all the same)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.group_commit import CommitLoop
from orchestrator.errors import Conflict
from orchestrator.models.executions import Execution
from orchestrator.runtime.agent_writer import AgentWriter, Rows
from tests.orchestrator._execution_helpers import make_execution, make_workflow
from tests.orchestrator.conftest import TenantFactory


async def _executions(app: FastAPI, tenant: TenantFactory, count: int) -> list[uuid.UUID]:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    return [await make_execution(app, owner.org_id, workflow) for _ in range(count)]


def _rename(execution_id: uuid.UUID, name: str, seen: list[Any]) -> Any:
    async def work(session: AsyncSession, rows: Rows) -> str:
        seen.append((execution_id, id(session)))
        rows[execution_id].workflow_name = name
        return name

    return work


async def _names(app: FastAPI, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    async with app.state.db.transaction() as session:
        rows = await session.execute(select(Execution.id, Execution.workflow_name).where(Execution.id.in_(ids)))
        return dict(rows.all())


async def test_units_that_arrive_together_share_one_transaction(app: FastAPI, tenant: TenantFactory) -> None:
    ids = await _executions(app, tenant, 5)
    writer = AgentWriter(app.state.db, loop=CommitLoop(app.state.db))
    writer.loop.start()
    try:
        seen: list[Any] = []
        results = await asyncio.gather(*(writer.submit(i, _rename(i, f"renamed {n}", seen)) for n, i in enumerate(ids)))
    finally:
        await writer.loop.stop()
    assert results == [f"renamed {n}" for n in range(5)]
    assert [execution_id for execution_id, _ in seen] == ids  # in arrival order
    assert len({session for _, session in seen}) == 1  # one transaction for all five
    assert (writer.batches, writer.units, writer.fallbacks) == (1, 5, 0)
    assert await _names(app, ids) == {i: f"renamed {n}" for n, i in enumerate(ids)}


async def test_a_failing_unit_is_rolled_back_alone(app: FastAPI, tenant: TenantFactory) -> None:
    ids = await _executions(app, tenant, 3)
    before = await _names(app, ids)
    writer = AgentWriter(app.state.db, loop=CommitLoop(app.state.db))
    writer.loop.start()

    async def conflicting(session: AsyncSession, rows: Rows) -> None:
        rows[ids[1]].workflow_name = "half-written"
        raise Conflict("the journal already holds different events")

    try:
        seen: list[Any] = []
        outcomes = await asyncio.gather(
            writer.submit(ids[0], _rename(ids[0], "first", seen)),
            writer.submit(ids[1], conflicting),
            writer.submit(ids[2], _rename(ids[2], "third", seen)),
            return_exceptions=True,
        )
    finally:
        await writer.loop.stop()
    assert outcomes[0] == "first"
    assert isinstance(outcomes[1], Conflict)  # the error reaches the unit's own caller
    assert outcomes[2] == "third"
    assert writer.fallbacks == 1
    assert await _names(app, ids) == {ids[0]: "first", ids[1]: before[ids[1]], ids[2]: "third"}


async def test_without_a_running_writer_each_unit_is_written_alone(app: FastAPI, tenant: TenantFactory) -> None:
    ids = await _executions(app, tenant, 1)
    writer = AgentWriter(app.state.db, loop=CommitLoop(app.state.db))  # never started (or stopped already)
    assert await writer.submit(ids[0], _rename(ids[0], "alone", [])) == "alone"
    assert await _names(app, ids) == {ids[0]: "alone"}
    ghost = uuid.uuid4()
    with pytest.raises(KeyError):  # a unit about an execution that does not exist sees no row
        await writer.submit(ghost, _rename(ghost, "ghost", []))
