"""The execution state rules, without HTTP: every allowed move, the illegal ones, guards,
effects, and the history and audit rows each move leaves."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.models import AuditEntry
from orchestrator.models.executions import ExecutionTransition
from orchestrator.services.audit import Actor
from orchestrator.services.execution_states import (
    RULES,
    TERMINAL,
    IllegalTransition,
    State,
    allowed_targets,
    rule_for,
    transition,
)
from orchestrator.services.executions import get_execution
from tests.orchestrator._execution_helpers import drive, make_execution, make_requeued, make_workflow, path_to

ALLOWED = sorted({(source, rule.target) for rule in RULES for source in rule.sources})
EXPECTED_TABLE = {
    State.QUEUED: {State.ASSIGNED, State.RUNNING, State.CANCELLED, State.TIMED_OUT, State.FAILED},
    State.ASSIGNED: {State.RUNNING, State.CANCELLED, State.TIMED_OUT, State.LOST},
    State.RUNNING: {State.PAUSED, State.SUCCEEDED, State.FAILED, State.CANCELLED, State.TIMED_OUT, State.LOST},
    State.PAUSED: {State.RUNNING, State.CANCELLED, State.TIMED_OUT, State.LOST},
    State.LOST: {State.QUEUED, State.CANCELLED, State.TIMED_OUT},
    State.SUCCEEDED: set(),
    State.FAILED: set(),
    State.CANCELLED: set(),
    State.TIMED_OUT: set(),
}
ALICE = Actor(uuid.uuid4(), "alice@example.com", "127.0.0.1", "req-1")


def test_the_table_is_the_documented_one() -> None:
    assert {state: set(allowed_targets(state)) for state in State} == EXPECTED_TABLE
    for state in TERMINAL:
        assert allowed_targets(state) == []


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (State.SUCCEEDED, State.RUNNING),
        (State.QUEUED, State.PAUSED),
        (State.QUEUED, State.SUCCEEDED),
        (State.RUNNING, State.QUEUED),
        (State.PAUSED, State.SUCCEEDED),
        (State.LOST, State.RUNNING),
        (State.CANCELLED, State.QUEUED),
    ],
)
def test_an_illegal_move_names_from_to_and_the_allowed_targets(source: State, target: State) -> None:
    with pytest.raises(IllegalTransition) as caught:
        rule_for(source, target)
    error = caught.value
    assert error.status == 409
    assert f"from '{source}' to '{target}'" in error.message
    assert error.details == {
        "from": source.value,
        "to": target.value,
        "allowed": [s.value for s in allowed_targets(source)],
    }
    for allowed in allowed_targets(source):
        assert f"'{allowed}'" in error.message
    if source in TERMINAL:
        assert "terminal" in error.message


async def test_every_allowed_move_applies_and_is_recorded(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    for source, target in ALLOWED:
        execution_id = await make_execution(app, owner.org_id, workflow_id, state=source)
        async with app.state.db.transaction() as session:
            execution = await get_execution(session, owner.org_id, execution_id)
            before = list(
                await session.scalars(
                    select(ExecutionTransition.seq).where(ExecutionTransition.execution_id == execution_id)
                )
            )
            if target is State.ASSIGNED:
                execution.agent_id = uuid.uuid4()
            if (source, target) == (State.QUEUED, State.RUNNING):  # a reclaim
                execution.agent_id = execution.previous_agent_id = uuid.uuid4()
            row = await transition(session, execution, target, reason="because", actor=ALICE)
        assert execution.state == target.value, (source, target)
        assert (row.from_state, row.to_state, row.reason, row.actor, row.actor_id) == (
            source.value,
            target.value,
            "because",
            ALICE.name,
            ALICE.id,
        )
        assert row.seq == len(before) + 1
        async with app.state.db.transaction() as session:
            stored = list(
                await session.scalars(
                    select(ExecutionTransition)
                    .where(ExecutionTransition.execution_id == execution_id)
                    .order_by(ExecutionTransition.seq)
                )
            )
            counter = (await get_execution(session, owner.org_id, execution_id)).history_seq
            actions = list(
                await session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(execution_id)))
            )
        assert [t.seq for t in stored] == list(range(1, len(before) + 2))
        assert counter == len(before) + 1
        assert (stored[-1].from_state, stored[-1].to_state, stored[-1].actor) == (
            source.value,
            target.value,
            ALICE.name,
        )
        # The audit log keeps what a person asked for (the start), not each move the system made.
        assert actions == ["execution.start"]


async def test_every_illegal_move_is_refused_and_changes_nothing(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    allowed = set(ALLOWED)
    for source in State:
        execution_id = await make_execution(app, owner.org_id, workflow_id, state=source)
        for target in State:
            if (source, target) in allowed:
                continue
            async with app.state.db.transaction() as session:
                execution = await get_execution(session, owner.org_id, execution_id)
                with pytest.raises(IllegalTransition, match=f"from '{source}' to '{target}'"):
                    await transition(session, execution, target, reason="nope", actor=ALICE)
                assert execution.state == source.value
                moves = list(
                    await session.scalars(
                        select(ExecutionTransition.to_state)
                        .where(ExecutionTransition.execution_id == execution_id)
                        .order_by(ExecutionTransition.seq)
                    )
                )
            assert moves == [State.QUEUED.value, *(s.value for s in path_to(source))]


async def test_assigning_needs_an_agent(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, owner.org_id, execution_id)
        with pytest.raises(IllegalTransition, match="must name its agent") as caught:
            await transition(session, execution, State.ASSIGNED, reason="dispatch", actor=ALICE)
        assert caught.value.code == "transition_refused"
        assert execution.state == "queued"


async def test_effects_timestamps_and_requeue(app: FastAPI, tenant) -> None:
    owner = await tenant()
    agent = uuid.uuid4()
    execution_id = await make_execution(
        app, owner.org_id, await make_workflow(app, owner.org_id), state=State.RUNNING, agent_id=agent
    )
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, owner.org_id, execution_id)
        assert execution.agent_id == agent
        assert execution.assigned_at is not None
        assert execution.started_at is not None
        first_start = execution.started_at
        await transition(session, execution, State.PAUSED, reason="approval", actor=ALICE)
        await transition(session, execution, State.RUNNING, reason="approved", actor=ALICE)
        assert execution.started_at == first_start, "a resume keeps the first start time"
        await transition(session, execution, State.LOST, reason="no heartbeat", actor=ALICE)
        assert execution.attempt == 1
        await transition(session, execution, State.QUEUED, reason="requeue", actor=ALICE)
        assert (execution.attempt, execution.agent_id, execution.assigned_at, execution.started_at) == (
            2,
            None,
            None,
            None,
        )
        assert execution.previous_agent_id == agent, "a requeue remembers the agent it was taken from"
        await drive(session, execution, State.SUCCEEDED)
        assert execution.finished_at is not None
        assert execution.attempt == 2
        history = list(
            await session.scalars(
                select(ExecutionTransition)
                .where(ExecutionTransition.execution_id == execution_id)
                .order_by(ExecutionTransition.seq)
            )
        )
    assert [(h.from_state, h.to_state) for h in history] == [
        (None, "queued"),
        ("queued", "assigned"),
        ("assigned", "running"),
        ("running", "paused"),
        ("paused", "running"),
        ("running", "lost"),
        ("lost", "queued"),
        ("queued", "assigned"),
        ("assigned", "running"),
        ("running", "succeeded"),
    ]
    assert [h.seq for h in history] == list(range(1, 11))


async def test_only_the_agent_it_was_requeued_from_reclaims_it_and_the_attempt_stays_new(app: FastAPI, tenant) -> None:
    owner = await tenant()
    agent = uuid.uuid4()
    execution_id = await make_requeued(app, owner.org_id, await make_workflow(app, owner.org_id), agent)
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, owner.org_id, execution_id)
        for stranger in (None, uuid.uuid4()):
            execution.agent_id = stranger
            with pytest.raises(IllegalTransition, match="only the agent it was requeued from") as caught:
                await transition(session, execution, State.RUNNING, reason="reclaim", actor=ALICE)
            assert caught.value.code == "transition_refused"
            assert execution.state == State.QUEUED.value
        execution.agent_id = agent
        await transition(session, execution, State.RUNNING, reason="reclaimed", actor=ALICE)
        assert (execution.state, execution.agent_id, execution.attempt) == ("running", agent, 2)
        assert execution.assigned_at is not None
        assert execution.started_at is not None
        history = list(
            await session.scalars(
                select(ExecutionTransition.to_state)
                .where(ExecutionTransition.execution_id == execution_id)
                .order_by(ExecutionTransition.seq)
            )
        )
    assert history[-3:] == ["lost", "queued", "running"]
