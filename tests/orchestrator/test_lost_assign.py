"""A `job.assign` lost on the way (a cut connection, an orchestrator stopped between the commit and
the send) never leaves an execution `assigned` for ever: the agent's `hello` is reconciled with what
the database says it holds, and a connected agent that does not confirm a job in
`assign_timeout_s` has it requeued."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.models.executions import ExecutionTransition
from orchestrator.runtime.agent_session import reconcile
from orchestrator.runtime.leases import LeaseReaper
from orchestrator.services.execution_states import State
from shared.protocol import Hello, JobStop, RunningJob
from tests.orchestrator._execution_helpers import load, make_execution, make_workflow
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.test_dispatch import FakeAgent, eventually, flow, get, held_by_a_fake
from tests.orchestrator.test_dispatch import settings as settings  # the fixture: short leases


def _hello(*running: tuple[uuid.UUID, int]) -> Hello:
    return Hello(
        protocol_version=2,
        name="laptop-7",
        version="0.1.0",
        max_jobs=2,
        running=[RunningJob(execution_id=str(e), attempt=a, last_seq=0) for e, a in running],
    )


async def _moves(app: FastAPI, execution_id: uuid.UUID) -> list[tuple[str | None, str, str]]:
    async with app.state.db.transaction() as session:
        rows = await session.scalars(
            select(ExecutionTransition)
            .where(ExecutionTransition.execution_id == execution_id)
            .order_by(ExecutionTransition.seq)
        )
        return [(t.from_state, t.to_state, t.reason) for t in rows]


async def test_a_hello_without_an_execution_the_agent_holds_requeues_it(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    agent = uuid.uuid4()
    lost = await make_execution(app, owner.org_id, workflow_id, state=State.ASSIGNED, agent_id=agent)
    kept = await make_execution(app, owner.org_id, workflow_id, state=State.RUNNING, agent_id=agent)
    someone_elses = await make_execution(app, owner.org_id, workflow_id, state=State.ASSIGNED, agent_id=uuid.uuid4())

    # Control: a hello that lists everything the agent holds changes nothing.
    done = await reconcile(app.state.db, agent, _hello((lost, 1), (kept, 1)))
    assert (done.keep, done.requeued) == ({lost: 1, kept: 1}, [])
    assert (await load(app, owner.org_id, lost)).state == "assigned"

    # The job.assign of `lost` never arrived: the agent's outbox does not know it.
    done = await reconcile(app.state.db, agent, _hello((kept, 1)))
    assert (done.keep, done.stop, done.requeued) == ({kept: 1}, [], [lost])
    row = await load(app, owner.org_id, lost)
    assert (row.state, row.attempt, row.agent_id, row.previous_agent_id) == ("queued", 2, None, agent)
    moves = await _moves(app, lost)
    assert [(f, t) for f, t, _ in moves[-2:]] == [("assigned", "lost"), ("lost", "queued")]
    assert "reconnected without it" in moves[-2][2]
    assert (await load(app, owner.org_id, kept)).state == "running"
    assert (await load(app, owner.org_id, someone_elses)).state == "assigned"


async def test_an_assignment_never_confirmed_is_requeued_and_dispatched_again(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    hub = app.state.agent_hub
    reaper = LeaseReaper(app.state.db, hub, grace_s=30, cancel_grace_s=30, assign_timeout_s=0.5)
    # Control: an agent that confirms its job (here by a heartbeat listing it) keeps it.
    confirmed, steady = await held_by_a_fake(app, client, owner, "steady")
    steady.link.confirm(uuid.UUID(confirmed))

    # The frame is lost: the connected, heartbeating agent never hears of the job.
    workflow = await make_workflow(app, owner.org_id, document=flow("Lost on the way"))
    response = await client.post("/api/v1/executions", json={"workflow_id": str(workflow)}, headers=owner.headers)
    lost = response.json()["id"]
    agent = FakeAgent(app, owner.org_id, "lossy").connect()
    await eventually(lambda: lost in agent.assigned)
    await asyncio.sleep(0.6)
    assert await reaper.reap_once() == 1
    assert (await get(client, owner.headers, confirmed))["state"] == "assigned"
    assert any(isinstance(m, JobStop) and m.execution_id == lost for m in agent.sent)
    # Requeued, and (the agent's slot being free again) sent once more, as attempt 2.
    await eventually(lambda: agent.assigned.count(lost) == 2)
    row = await get(client, owner.headers, lost)
    assert (row["state"], row["attempt"]) == ("assigned", 2)
    moves = await _moves(app, uuid.UUID(lost))
    assert "did not confirm the job within 0.5 s" in moves[-3][2]


async def test_a_job_given_to_a_connection_since_replaced_is_requeued(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    hub = app.state.agent_hub
    reaper = LeaseReaper(app.state.db, hub, grace_s=30, cancel_grace_s=30, assign_timeout_s=0.5)
    execution, old = await held_by_a_fake(app, client, owner, "twice")
    new = FakeAgent(app, owner.org_id, "twice")
    new.link.agent_id = old.link.agent_id
    new.connect()  # the same agent on a new connection that does not hold it
    await asyncio.sleep(0.6)
    assert await reaper.reap_once() == 1
    row = await get(client, owner.headers, execution)
    assert row["attempt"] == 2
