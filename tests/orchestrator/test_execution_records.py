"""Executions as records (`models/execution_records.py`): read with Core, moved by the same
state rules as ORM objects, written back as UPDATEs by id of what was assigned."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from orchestrator.db.session import Database
from orchestrator.models.execution_records import columns_except, new_record, write_records
from orchestrator.models.executions import Execution, ExecutionTransition
from orchestrator.runtime.agent_writer import lock_executions
from orchestrator.services.execution_states import State, transition
from tests.orchestrator._execution_helpers import SYSTEM, make_execution, make_workflow


async def stored(db: Database, execution_id: uuid.UUID) -> Execution:
    async with db.transaction() as session:
        execution = await session.get(Execution, execution_id)
        assert execution is not None
        return execution


async def test_a_record_moved_by_the_rules_is_written_as_the_orm_would_write_it(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    execution_id = await make_execution(app, owner.org_id, workflow)
    before = await stored(app.state.db, execution_id)
    agent_id = uuid.uuid4()
    async with app.state.db.transaction() as session:
        record = (await lock_executions(session, {execution_id}))[execution_id]
        assert (record.state, record.attempt, record.history_seq) == ("queued", 1, 1)
        record.agent_id = agent_id
        await transition(session, record, State.ASSIGNED, reason="to the test's agent", actor=SYSTEM)
        await transition(session, record, State.RUNNING, reason="started", actor=SYSTEM)
        assert await write_records(session, [record]) == 1
        assert await write_records(session, [record]) == 0  # written once: nothing is left to write
    after = await stored(app.state.db, execution_id)
    assert (after.state, after.agent_id, after.history_seq) == ("running", agent_id, 3)
    assert after.assigned_at is not None
    assert after.started_at is not None
    assert after.updated_at > before.updated_at
    assert (after.inputs, after.workflow_id, after.attempt) == (before.inputs, before.workflow_id, 1)
    async with app.state.db.transaction() as session:
        moves = (
            await session.execute(
                select(ExecutionTransition.seq, ExecutionTransition.to_state)
                .where(ExecutionTransition.execution_id == execution_id)
                .order_by(ExecutionTransition.seq)
            )
        ).all()
    assert [tuple(move) for move in moves] == [(1, "queued"), (2, "assigned"), (3, "running")]


async def test_records_with_different_changes_are_each_written_with_their_own_columns(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    first, second, untouched = [await make_execution(app, owner.org_id, workflow) for _ in range(3)]
    async with app.state.db.transaction() as session:
        records = await lock_executions(session, {first, second, untouched})
        records[first].last_seq = 7
        records[second].outputs = {"total": 3}  # not read by the writer, but it may be written
        records[second].stored_seq = 9
        assert await write_records(session, records.values()) == 2
    one, two, three = [await stored(app.state.db, execution_id) for execution_id in (first, second, untouched)]
    assert (one.last_seq, one.stored_seq, one.outputs) == (7, 0, None)
    assert (two.last_seq, two.stored_seq, two.outputs) == (0, 9, {"total": 3})
    assert (three.last_seq, three.stored_seq, three.state) == (0, 0, "queued")


async def test_a_column_that_was_not_read_raises_instead_of_reading_as_empty(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    async with app.state.db.transaction() as session:
        record = (await lock_executions(session, {execution_id}))[execution_id]
        with pytest.raises(AttributeError):
            _ = record.inputs
        assert repr(record) == f"<ExecutionRecord {execution_id} queued>"


async def test_changes_rolled_back_with_their_transaction_are_not_kept(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    async with app.state.db.sessions() as session:
        await session.begin()
        record = (await lock_executions(session, {execution_id}))[execution_id]
        await transition(session, record, State.CANCELLED, reason="then rolled back", actor=SYSTEM)
        assert await write_records(session, [record]) == 1
        await session.rollback()
    assert (await stored(app.state.db, execution_id)).state == "queued"
    async with app.state.db.transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ExecutionTransition)
            .where(ExecutionTransition.execution_id == execution_id)
        )
    assert count == 1


def test_an_unknown_column_is_named() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        columns_except("inputs", "nonsense")


def test_a_new_record_has_every_column_at_its_default_unless_given() -> None:
    record = new_record(org_id=uuid.uuid4(), priority=3)
    values = record.values()
    assert set(values) == {column.key for column in Execution.__table__.columns}
    assert (values["attempt"], values["last_seq"], values["history_seq"], values["inputs"]) == (1, 0, 0, {})
    assert values["state"] is None  # enter() gives it its first state
    assert isinstance(values["id"], uuid.UUID)
    assert record.priority_name == "urgent"
    assert new_record().inputs is not new_record().inputs  # a callable default: a new dict each time
    with pytest.raises(TypeError, match="colour"):
        new_record(colour="red")
