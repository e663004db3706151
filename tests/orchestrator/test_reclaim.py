"""An agent that comes back after its execution was requeued, before any other agent took it,
reclaims it (`reconcile` and `welcome.reclaimed`); in every other case it is told to stop."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.models.executions import ExecutionTransition
from orchestrator.runtime.agent_session import reconcile, stop_taken_back
from orchestrator.runtime.hub import AgentHub, AgentLink
from orchestrator.services.execution_states import State, transition
from orchestrator.services.executions import get_execution
from shared.protocol import Hello, JobStop, Reclaimed, RunningJob
from tests.orchestrator._execution_helpers import SYSTEM, load, make_execution, make_requeued, make_workflow
from tests.orchestrator.conftest import TenantFactory


def _hello(*running: tuple[uuid.UUID, int], version: int = 2) -> Hello:
    return Hello(
        protocol_version=version,
        name="laptop-7",
        version="0.1.0",
        max_jobs=2,
        running=[RunningJob(execution_id=str(e), attempt=a, last_seq=3) for e, a in running],
    )


async def test_the_agent_it_was_requeued_from_goes_on_with_it_under_the_new_attempt(
    app: FastAPI, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    agent = uuid.uuid4()
    execution_id = await make_requeued(app, owner.org_id, workflow_id, agent)

    done = await reconcile(app.state.db, agent, _hello((execution_id, 1)))

    assert done.reclaimed == [Reclaimed(execution_id=str(execution_id), attempt=2)]
    assert done.keep == {execution_id: 2}
    assert done.stop == []
    execution = await load(app, owner.org_id, execution_id)
    assert (execution.state, execution.agent_id, execution.attempt) == ("running", agent, 2)
    assert execution.started_at is not None
    async with app.state.db.transaction() as session:
        last = (
            await session.scalars(
                select(ExecutionTransition)
                .where(ExecutionTransition.execution_id == execution_id)
                .order_by(ExecutionTransition.seq.desc())
            )
        ).first()
    assert last is not None
    assert (last.from_state, last.to_state, last.actor, last.actor_id) == ("queued", "running", "agent:laptop-7", agent)
    assert "came back before another agent took it" in last.reason


async def test_anyone_else_or_any_other_case_is_told_to_stop_and_the_execution_stays_queued(
    app: FastAPI, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    agent, rescuer = uuid.uuid4(), uuid.uuid4()
    stranger_claims = await make_requeued(app, owner.org_id, workflow_id, agent)
    old_agent = await make_requeued(app, owner.org_id, workflow_id, agent)
    twice = await make_requeued(app, owner.org_id, workflow_id, agent, times=2)  # attempt 3: attempt 1 is long gone
    taken = await make_requeued(app, owner.org_id, workflow_id, agent)
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, owner.org_id, taken)
        execution.agent_id = rescuer
        await transition(session, execution, State.ASSIGNED, reason="dispatch", actor=SYSTEM)
        await transition(session, execution, State.RUNNING, reason="started", actor=SYSTEM)

    # The rescuer's own hello comes last: it does not list `taken`, so it gives that one back.
    cases = [
        (agent, _hello((old_agent, 1), version=1), old_agent, "queued"),  # cannot be told of a new attempt
        (agent, _hello((twice, 1)), twice, "queued"),
        (agent, _hello((twice, 3)), twice, "queued"),  # an attempt it never ran
        (agent, _hello((taken, 1)), taken, "running"),  # another agent runs it now
        (rescuer, _hello((stranger_claims, 1)), stranger_claims, "queued"),  # never held it
    ]
    for who, hello, execution_id, state in cases:
        done = await reconcile(app.state.db, who, hello)
        assert (done.stop, done.reclaimed, done.keep) == ([str(execution_id)], [], {}), hello
        assert (await load(app, owner.org_id, execution_id)).state == state


async def test_a_held_execution_is_kept_and_a_reclaim_sits_beside_it(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    agent = uuid.uuid4()
    held = await make_execution(app, owner.org_id, workflow_id, state=State.RUNNING, agent_id=agent)
    requeued = await make_requeued(app, owner.org_id, workflow_id, agent)

    done = await reconcile(app.state.db, agent, _hello((held, 1), (requeued, 1), (uuid.uuid4(), 1)))

    assert done.keep == {held: 1, requeued: 2}
    assert [r.execution_id for r in done.reclaimed] == [str(requeued)]
    assert len(done.stop) == 1  # the unknown one


async def test_given_to_another_agent_that_has_not_started_it_the_run_is_taken_back(
    app: FastAPI, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    agent, rescuer = uuid.uuid4(), uuid.uuid4()
    execution_id = await make_requeued(app, owner.org_id, workflow_id, agent)
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, owner.org_id, execution_id)
        execution.agent_id = rescuer
        await transition(session, execution, State.ASSIGNED, reason="dispatch", actor=SYSTEM)

    # A version-1 agent cannot be told of the new attempt: the rescuer keeps it.
    done = await reconcile(app.state.db, agent, _hello((execution_id, 1), version=1))
    assert (done.stop, done.taken_back) == ([str(execution_id)], {})
    assert (await load(app, owner.org_id, execution_id)).agent_id == rescuer

    # The agent it was requeued from is back with the run (finished, say, and unacknowledged):
    # nothing was done on the rescuer, so the run this agent holds goes on, merged, not run again.
    done = await reconcile(app.state.db, agent, _hello((execution_id, 1)))
    assert done.reclaimed == [Reclaimed(execution_id=str(execution_id), attempt=2)]
    assert (done.keep, done.stop, done.taken_back) == ({execution_id: 2}, [], {execution_id: rescuer})
    execution = await load(app, owner.org_id, execution_id)
    assert (execution.state, execution.agent_id, execution.attempt) == ("running", agent, 2)


async def test_the_agent_it_was_taken_back_from_is_told_to_stop() -> None:
    sent: list[object] = []

    async def send(message: object) -> None:
        sent.append(message)

    async def close(_code: int, _reason: str) -> None:
        return None

    hub = AgentHub()
    execution_id, other = uuid.uuid4(), uuid.uuid4()
    link = AgentLink(agent_id=other, org_id=uuid.uuid4(), name="rescuer", send=send, close=close)
    hub.register(link)
    link.hold(execution_id, 2, confirmed=False)
    await stop_taken_back(hub, {execution_id: other, uuid.uuid4(): uuid.uuid4()})  # the second: not connected
    assert sent == [JobStop(id=sent[0].id, execution_id=str(execution_id), reason="moved")]  # type: ignore[attr-defined]
    assert (link.running, link.unconfirmed) == ({}, {})
