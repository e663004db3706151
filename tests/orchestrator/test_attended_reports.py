"""Attended runs an agent created itself (`execution.report`, protocol 5): recorded once like any
other execution, refused with a reason when the id, the workflow or the user does not fit, shown
paused while paused, and never requeued elsewhere."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from orchestrator.models.executions import Execution, ExecutionTransition
from orchestrator.runtime.agent_session import AgentSession, reconcile
from orchestrator.runtime.hub import AgentHub, AgentLink
from orchestrator.services.execution_states import State
from shared.protocol import (
    ExecutionRecorded,
    ExecutionReport,
    Hello,
    JournalBatch,
    ProtocolError,
    ServerConnection,
    WireEvent,
    encode,
)
from tests.orchestrator._execution_helpers import flow, load, make_workflow
from tests.orchestrator.conftest import Member, TenantFactory


async def _nothing(*_: Any) -> None:
    return None


def _hello(version: int = 5, running: list[dict[str, Any]] | None = None) -> Hello:
    return Hello.model_validate(
        {
            "protocol_version": version,
            "name": "desk-7",
            "version": "0.1.0",
            "capabilities": ["core"],
            "labels": [],
            "max_jobs": 1,
            "steps": [],
            "running": running or [],
        }
    )


def _session(app: FastAPI, org_id: uuid.UUID, agent_id: uuid.UUID | None = None, version: int = 5) -> AgentSession:
    agent_id = agent_id or uuid.uuid4()
    connection = ServerConnection(str(agent_id), 10.0)
    connection.receive(encode(_hello(version)))
    link = AgentLink(
        agent_id=agent_id, org_id=org_id, name="desk-7", send=_nothing, close=_nothing, connection=connection
    )
    return AgentSession(app.state.db, AgentHub(), link, connection, app.state.agent_writer)


def _report(workflow_id: uuid.UUID, user: Member | None, execution_id: str | None = None) -> ExecutionReport:
    return ExecutionReport(
        execution_id=execution_id or str(uuid.uuid4()),
        workflow_id=str(workflow_id),
        version=1,
        inputs={"customer": "ACME"},
        trigger={"type": "hotkey", "hotkey": "Ctrl+Alt+F5"},
        user_id=str(user.user_id) if user else None,
        started_at=time.time(),
    )


def _journal(
    execution_id: str, seqs: range, *, paused: set[int] = frozenset(), resumed: set[int] = frozenset()
) -> JournalBatch:  # type: ignore[assignment]
    def event(seq: int) -> WireEvent:
        if seq in paused or seq in resumed:
            kind = "paused" if seq in paused else "resumed"
            return WireEvent(seq=seq, type="node.note", path="", data={"kind": kind}, ts=time.time())
        if seq == 1:
            return WireEvent(seq=1, type="execution.started", path="", data={}, ts=time.time())
        if seq == seqs[-1]:
            data = {"status": "succeeded", "outputs": {}, "error": None}
            return WireEvent(seq=seq, type="execution.finished", path="", data=data, ts=time.time())
        return WireEvent(
            seq=seq, type="node.succeeded", path="wait", data={"output": None, "port": "out"}, ts=time.time()
        )

    return JournalBatch(execution_id=execution_id, attempt=1, events=[event(s) for s in seqs])


async def _count(app: FastAPI, model: Any, **where: Any) -> int:
    async with app.state.db.transaction() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(await session.scalar(query) or 0)


async def test_a_report_sent_twice_is_recorded_once_and_its_journal_ends_it(
    app: FastAPI, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("Attended"))
    session = _session(app, owner.org_id)
    report = _report(workflow, owner)

    first = await session.on_report(report)
    again = await session.on_report(report.model_copy(update={"id": uuid.uuid4().hex}))
    assert [(r.accepted, r.reason) for r in first + again if isinstance(r, ExecutionRecorded)] == [
        (True, ""),
        (True, ""),
    ]
    execution_id = uuid.UUID(report.execution_id)
    assert await _count(app, Execution, id=execution_id) == 1
    history = await _count(app, ExecutionTransition, execution_id=execution_id)
    assert history == 3  # queued (by the user) → assigned → running, once

    stored = await load(app, owner.org_id, execution_id)
    assert (stored.state, stored.trigger_type, stored.agent_id) == ("running", "hotkey", session.link.agent_id)
    assert stored.created_by == owner.user_id
    assert stored.trigger["attended"] is True
    assert stored.trigger["hotkey"] == "Ctrl+Alt+F5"
    assert stored.trigger["by"]["id"] == str(owner.user_id)

    replies = await session.on_journal(_journal(report.execution_id, range(1, 4)))
    assert [r.type for r in replies] == ["journal.ack"]  # type: ignore[attr-defined]
    assert (await load(app, owner.org_id, execution_id)).state == State.SUCCEEDED.value


async def test_a_report_with_another_executions_id_is_refused_with_the_reason(
    app: FastAPI, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    report = _report(workflow, owner)
    assert (await _session(app, owner.org_id).on_report(report))[0].accepted  # type: ignore[attr-defined]
    other = await _session(app, owner.org_id).on_report(report)  # another agent, the same id
    refused = other[0]
    assert isinstance(refused, ExecutionRecorded)
    assert not refused.accepted
    assert "already another execution's" in refused.reason
    assert await _count(app, Execution, id=uuid.UUID(report.execution_id)) == 1


async def test_reports_the_organisation_or_the_user_does_not_allow_are_refused(
    app: FastAPI, tenant: TenantFactory
) -> None:
    owner = await tenant()
    stranger = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    workflow = await make_workflow(app, owner.org_id)
    foreign = await make_workflow(app, stranger.org_id)
    session = _session(app, owner.org_id)

    cases = {
        "no user": _report(workflow, None),
        "viewer": _report(workflow, viewer),
        "member of another org": _report(workflow, stranger),
        "another org's workflow": _report(foreign, owner),
    }
    reasons = {}
    for name, report in cases.items():
        answer = (await session.on_report(report))[0]
        assert isinstance(answer, ExecutionRecorded)
        assert not answer.accepted, name
        reasons[name] = answer.reason
        assert await _count(app, Execution, id=uuid.UUID(report.execution_id)) == 0, name
    assert "must name the user" in reasons["no user"]
    assert "may not start executions" in reasons["viewer"]
    assert "not an active member" in reasons["member of another org"]
    assert f"no workflow {foreign}" in reasons["another org's workflow"]
    # Control: the same report by the owner is recorded.
    assert (await session.on_report(_report(workflow, owner)))[0].accepted  # type: ignore[attr-defined]


async def test_a_version_4_connection_cannot_report(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    session = _session(app, owner.org_id, version=4)
    report = _report(uuid.uuid4(), owner)
    with pytest.raises(ProtocolError, match=r"no .execution\.report. in protocol 4"):
        session.connection.receive(encode(report))


async def test_pause_notes_move_the_execution_to_paused_and_back(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    session = _session(app, owner.org_id)
    report = _report(workflow, owner)
    await session.on_report(report)
    execution_id = uuid.UUID(report.execution_id)

    await session.on_journal(_journal(report.execution_id, range(1, 3), paused={2}))
    assert (await load(app, owner.org_id, execution_id)).state == State.PAUSED.value
    await session.on_journal(_journal(report.execution_id, range(3, 5), resumed={3}))
    assert (await load(app, owner.org_id, execution_id)).state == State.SUCCEEDED.value


async def test_an_attended_run_is_never_requeued_when_its_agent_reconnects_without_it(
    app: FastAPI, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    session = _session(app, owner.org_id)
    report = _report(workflow, owner)
    await session.on_report(report)

    done = await reconcile(app.state.db, session.link.agent_id, _hello())  # its report's answer was lost
    assert done.requeued == []
    assert (await load(app, owner.org_id, uuid.UUID(report.execution_id))).state == State.RUNNING.value


async def test_the_lease_reaper_never_requeues_an_attended_run(app: FastAPI, tenant: TenantFactory) -> None:
    from orchestrator.runtime.leases import LeaseReaper
    from tests.orchestrator._execution_helpers import make_execution

    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    session = _session(app, owner.org_id)
    report = _report(workflow, owner)
    await session.on_report(report)
    # Control: an assigned run of the same agent, gone as long.
    control = await make_execution(app, owner.org_id, workflow, state=State.RUNNING, agent_id=session.link.agent_id)

    reaper = LeaseReaper(app.state.db, AgentHub(), grace_s=0, cancel_grace_s=30)  # the agent is gone, past grace
    await reaper.reap_once()
    assert (await load(app, owner.org_id, control)).state == State.QUEUED.value
    assert (await load(app, owner.org_id, uuid.UUID(report.execution_id))).state == State.RUNNING.value
