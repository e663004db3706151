"""What the server does with an agent's `job.finished`: once the stored journal ended the
execution, the answer needs nothing from the database; before that, the row decides. And the
messages of a connection are handled without waiting for the ones before them: what arrives
together is stored in one transaction, answered in order, a session checkpoint before the journal
batch behind it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI, WebSocketDisconnect
from sqlalchemy import Engine, event

from orchestrator.api.routes.agent_socket import _serve
from orchestrator.runtime.agent_session import AgentSession
from orchestrator.runtime.hub import AgentHub, AgentLink
from orchestrator.services.execution_states import State
from shared.protocol import (
    Heartbeat,
    Hello,
    JobAccepted,
    JobFinished,
    JournalBatch,
    ServerConnection,
    SessionCheckpoint,
    WireEvent,
    encode,
)
from tests.orchestrator._execution_helpers import load, make_execution, make_workflow
from tests.orchestrator.conftest import TenantFactory


async def _nothing(*_: Any) -> None:
    return None


def _said(replies: list[object]) -> list[tuple[str, str, Any]]:
    """What replies say, without their message ids."""
    return [
        (reply.type, reply.execution_id, getattr(reply, "seq", getattr(reply, "reason", None)))  # type: ignore[attr-defined]
        for reply in replies
    ]


async def _session(app: FastAPI, tenant: TenantFactory) -> tuple[AgentSession, uuid.UUID, uuid.UUID]:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    agent_id = uuid.uuid4()
    execution_id = await make_execution(app, owner.org_id, workflow, state=State.ASSIGNED, agent_id=agent_id)
    connection = ServerConnection(str(agent_id), 10.0)
    connection.receive(
        encode(
            Hello(
                protocol_version=1,
                name="robot",
                version="0.1.0",
                capabilities=["core"],
                labels=[],
                max_jobs=1,
                steps=[],
            )
        )
    )
    link = AgentLink(
        agent_id=agent_id, org_id=owner.org_id, name="robot", send=_nothing, close=_nothing, connection=connection
    )
    link.hold(execution_id, 1)
    return AgentSession(app.state.db, AgentHub(), link, connection, app.state.agent_writer), execution_id, owner.org_id


def _journal(execution_id: uuid.UUID, seqs: range, *, status: str = "succeeded") -> JournalBatch:
    kinds = {
        1: ("execution.started", {}),
        2: ("node.started", {}),
        3: ("node.succeeded", {}),
        4: ("execution.finished", {"status": status, "outputs": {"total": 3}}),
    }
    return JournalBatch(
        execution_id=str(execution_id),
        attempt=1,
        events=[
            WireEvent(
                seq=seq, type=kinds[seq][0], path="" if seq in (1, 4) else "a", data=kinds[seq][1], ts=time.time()
            )
            for seq in seqs
        ],
    )


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every statement any engine sends meanwhile (requests and writers have engines of their own)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


async def test_finished_after_the_journal_ended_it_is_answered_without_a_query(
    app: FastAPI, tenant: TenantFactory
) -> None:
    session, execution_id, org_id = await _session(app, tenant)
    assert _said(await session.on_journal(_journal(execution_id, range(1, 5)))) == [
        ("journal.ack", str(execution_id), 4)
    ]
    assert (await load(app, org_id, execution_id)).state == State.SUCCEEDED.value
    assert str(execution_id) in session.connection.assigned  # the agent may still send its job.finished

    with _statements() as statements:
        replies = await session.on_finished(
            JobFinished(execution_id=str(execution_id), attempt=1, status="succeeded", last_seq=4)
        )
    assert _said(replies) == [("journal.ack", str(execution_id), 4)]
    assert statements == []
    assert str(execution_id) not in session.connection.assigned
    assert execution_id not in session.link.running


async def test_finished_ahead_of_the_stored_journal_waits_for_the_missing_events(
    app: FastAPI, tenant: TenantFactory
) -> None:
    session, execution_id, _ = await _session(app, tenant)
    await session.on_journal(_journal(execution_id, range(1, 3)))
    with _statements() as statements:
        replies = await session.on_finished(
            JobFinished(execution_id=str(execution_id), attempt=1, status="succeeded", last_seq=4)
        )
    assert _said(replies) == [("journal.ack", str(execution_id), 2)]  # the row says what is stored
    assert statements  # read from the database: the journal has not ended the execution yet
    assert str(execution_id) in session.connection.assigned  # events 3 and 4 are still to come


async def test_finished_of_an_execution_that_moved_is_told_to_stop(app: FastAPI, tenant: TenantFactory) -> None:
    session, execution_id, org_id = await _session(app, tenant)
    session.link.agent_id = uuid.uuid4()  # the row names another agent now
    replies = await session.on_finished(
        JobFinished(execution_id=str(execution_id), attempt=1, status="succeeded", last_seq=4)
    )
    assert _said(replies) == [("job.stop", str(execution_id), "moved")]
    assert str(execution_id) not in session.connection.assigned
    assert (await load(app, org_id, execution_id)).state == State.ASSIGNED.value


class _Frames:
    """A socket that delivers `frames`, then the agent's goodbye."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = list(frames)

    async def receive(self) -> dict[str, Any]:
        if self.frames:
            return {"type": "websocket.receive", "text": self.frames.pop(0)}
        return {"type": "websocket.disconnect", "code": 1000}


async def _served(session: AgentSession, frames: list[str]) -> list[object]:
    """Serve `frames` on `session` until the agent's goodbye; what the server sent."""
    sent: list[object] = []

    async def send(message: object) -> None:
        sent.append(message)

    with pytest.raises(WebSocketDisconnect):
        await _serve(_Frames(frames), session, send)  # type: ignore[arg-type]
    return sent


async def test_an_accepted_job_and_its_first_journal_batch_are_stored_in_one_transaction(
    app: FastAPI, tenant: TenantFactory
) -> None:
    session, execution_id, org_id = await _session(app, tenant)
    writer = app.state.agent_writer
    batches, units = writer.batches, writer.units
    frames = [
        encode(JobAccepted(execution_id=str(execution_id), attempt=1)),
        encode(_journal(execution_id, range(1, 5))),
    ]
    sent = await _served(session, frames)
    assert _said(sent) == [("journal.ack", str(execution_id), 4)]
    assert (writer.batches - batches, writer.units - units) == (1, 2)
    assert (await load(app, org_id, execution_id)).state == State.SUCCEEDED.value


async def test_an_agent_that_says_it_cannot_journal_gets_no_job_until_it_says_it_can(
    app: FastAPI, tenant: TenantFactory
) -> None:
    session, execution_id, _ = await _session(app, tenant)
    session.release(execution_id)
    kicks: list[bool] = []
    session.hub.on_free = lambda work=False: kicks.append(work)
    session.hub.register(session.link)
    assert session.hub.status_of(session.link.agent_id) == "online"  # control: a free slot
    sick = Heartbeat(sent_at=time.time(), unhealthy="the agent's outbox cannot be written (database or disk is full)")
    replies = await session.on_heartbeat(sick)
    assert [r.type for r in replies] == ["heartbeat.ack"]  # type: ignore[attr-defined]
    assert session.link.free == 0
    assert session.hub.status_of(session.link.agent_id) == "busy"
    assert session.hub.available() == []
    kicks.clear()
    await session.on_heartbeat(Heartbeat(sent_at=time.time()))
    assert session.link.free == 1
    assert session.hub.available() == [session.link]
    assert kicks  # the dispatcher is told: what waited may go to it now


async def _second(app: FastAPI, session: AgentSession, org_id: uuid.UUID) -> uuid.UUID:
    """Another execution of the same agent, held by the same connection."""
    workflow = await make_workflow(app, org_id)
    other = await make_execution(app, org_id, workflow, state=State.ASSIGNED, agent_id=session.link.agent_id)
    session.link.hold(other, 1)
    return other


async def test_the_messages_read_together_are_stored_in_one_transaction_and_answered_in_order(
    app: FastAPI, tenant: TenantFactory
) -> None:
    session, first, org_id = await _session(app, tenant)
    second = await _second(app, session, org_id)
    writer = app.state.agent_writer
    batches, units = writer.batches, writer.units
    frames = [
        encode(JobAccepted(execution_id=str(first), attempt=1)),
        encode(JobAccepted(execution_id=str(second), attempt=1)),
        encode(_journal(second, range(1, 3))),
        encode(_journal(first, range(1, 5))),
        encode(JobFinished(execution_id=str(first), attempt=1, status="succeeded", last_seq=4)),
        encode(_journal(second, range(3, 5), status="failed")),
        encode(Heartbeat(sent_at=time.time())),
    ]
    sent = await _served(session, frames)
    # One agent's messages were a transaction each when handled one after another.
    assert (writer.batches - batches, writer.units - units) == (1, 5)
    assert [getattr(reply, "type", None) for reply in sent] == [
        "journal.ack",
        "journal.ack",
        "journal.ack",
        "journal.ack",
        "heartbeat.ack",
    ]
    assert _said(sent[:4]) == [
        ("journal.ack", str(second), 2),
        ("journal.ack", str(first), 4),
        ("journal.ack", str(first), 4),  # the finished job, answered from the journal stored before it
        ("journal.ack", str(second), 4),
    ]
    assert (await load(app, org_id, first)).state == State.SUCCEEDED.value
    assert (await load(app, org_id, second)).state == State.FAILED.value
    assert str(first) not in session.connection.assigned


async def test_a_session_checkpoint_is_kept_before_the_journal_batch_behind_it(
    app: FastAPI, tenant: TenantFactory
) -> None:
    session, execution_id, _ = await _session(app, tenant)
    order: list[str] = []

    class Slow:
        async def put(self, _org: uuid.UUID, _execution: uuid.UUID, key: str, _state: Any) -> None:
            await asyncio.sleep(0.05)  # the journal batch behind it must still wait for it
            order.append(f"checkpoint {key}")

        async def delete(self, _org: uuid.UUID, _execution: uuid.UUID) -> None:
            order.append("deleted")

    session.checkpoints = Slow()  # type: ignore[assignment]
    on_journal = session.on_journal

    async def journal(message: JournalBatch) -> list[object]:
        order.append(f"journal {message.events[0].seq}")
        return await on_journal(message)

    session.on_journal = journal  # type: ignore[method-assign]

    frames = [
        encode(_journal(execution_id, range(1, 3))),
        encode(SessionCheckpoint(execution_id=str(execution_id), attempt=1, session="browser", state={"a": 1})),
        encode(_journal(execution_id, range(3, 5))),
    ]
    await _served(session, frames)
    assert order == ["journal 1", "checkpoint browser", "journal 3", "deleted"]


async def test_a_closed_connection_still_stores_what_was_read(app: FastAPI, tenant: TenantFactory) -> None:
    session, execution_id, org_id = await _session(app, tenant)

    async def gone(_message: object) -> None:
        raise WebSocketDisconnect(1006)

    frames = [
        encode(JobAccepted(execution_id=str(execution_id), attempt=1)),
        encode(_journal(execution_id, range(1, 5))),
    ]
    with pytest.raises(WebSocketDisconnect):
        await _serve(_Frames(frames), session, gone)  # type: ignore[arg-type]
    assert (await load(app, org_id, execution_id)).state == State.SUCCEEDED.value
