"""`db.session.defer_insert`: a row written with the session's next flush, as an added object would be."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.db.base import utcnow
from orchestrator.db.session import Database, defer_insert
from orchestrator.models.executions import ExecutionTransition
from orchestrator.services.execution_states import State, transition
from orchestrator.services.executions import get_execution
from tests.orchestrator._execution_helpers import SYSTEM, make_execution, make_workflow

HISTORY = ExecutionTransition.__table__


def row(org_id: uuid.UUID, execution_id: uuid.UUID, seq: int) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "execution_id": execution_id,
        "seq": seq,
        "from_state": "queued",
        "to_state": "queued",
        "reason": "deferred",
        "actor_id": None,
        "actor": "test",
        "at": utcnow(),
    }


async def count(session: AsyncSession, execution_id: uuid.UUID) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(HISTORY).where(HISTORY.c.execution_id == execution_id))
        or 0
    )


async def test_a_deferred_row_is_seen_by_the_next_query_and_kept_at_commit(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    db: Database = app.state.db
    async with db.transaction() as session:
        execution = await get_execution(session, owner.org_id, execution_id, for_update=True)
        recorded = await transition(session, execution, State.CANCELLED, reason="by the test", actor=SYSTEM)
        # The execution changed, so the query flushes first, and the history row goes with it.
        assert await count(session, execution_id) == 2
    async with db.transaction() as session:
        assert await count(session, execution_id) == 2
        stored = (
            await session.execute(
                select(HISTORY).where(HISTORY.c.execution_id == execution_id, HISTORY.c.seq == recorded.seq)
            )
        ).one()
    assert (stored.from_state, stored.to_state, stored.reason, stored.actor) == (
        "queued",
        "cancelled",
        "by the test",
        SYSTEM.name,
    )


async def test_a_row_deferred_alone_is_written_at_commit_and_dropped_on_rollback(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    db: Database = app.state.db
    async with db.transaction() as session:  # nothing else to flush: the commit writes it
        defer_insert(session, HISTORY, row(owner.org_id, execution_id, 50))

    async with db.sessions() as session:
        await session.begin()
        defer_insert(session, HISTORY, row(owner.org_id, execution_id, 51))
        await session.rollback()
        await session.begin()  # the same session's next transaction does not inherit it
        defer_insert(session, HISTORY, row(owner.org_id, execution_id, 52))
        await session.commit()
    async with db.transaction() as session:
        assert sorted(await session.scalars(select(HISTORY.c.seq).where(HISTORY.c.execution_id == execution_id))) == [
            1,
            50,
            52,
        ]


async def test_a_session_that_cannot_write_them_is_refused(app: FastAPI) -> None:
    db: Database = app.state.db
    plain = async_sessionmaker(db.engine)
    async with plain() as session:
        with pytest.raises(TypeError, match="session of a Database"):
            defer_insert(session, HISTORY, row(uuid.uuid4(), uuid.uuid4(), 1))
