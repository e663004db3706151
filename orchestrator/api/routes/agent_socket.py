"""`/api/v1/agents/connect`: the one WebSocket per agent.

The agent authenticates with its own key (`Authorization: Bearer rpa_ak_…`). Everything it sends
goes through `shared.protocol.ServerConnection` first; a frame the protocol refuses (malformed,
too large, unknown type or version, out of order, about another agent's execution) gets an
`error` message and the connection is closed with the matching code. Only that connection: the
others are served on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.types import Scope, Send

from orchestrator.api.deps import started
from orchestrator.runtime.admission import HandshakeGate
from orchestrator.runtime.agent_session import AgentSession, reconcile, record_disconnect, stop_taken_back
from orchestrator.runtime.agents import authenticate_agent
from orchestrator.runtime.hub import AgentLink
from orchestrator.services.agent_logs import LogBudget, escape_control
from shared.protocol import (
    CLOSE_GOING_AWAY,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_REPLACED,
    CLOSE_UNAUTHORIZED,
    ErrorMessage,
    ExecutionReport,
    Heartbeat,
    Hello,
    JobAccepted,
    JobFinished,
    JobRejected,
    JournalBatch,
    LogLine,
    ProtocolError,
    ServerConnection,
    SessionCheckpoint,
    UnexpectedMessage,
    encode,
)

log = logging.getLogger("rpa.orchestrator.agents")

router = APIRouter()

HELLO_TIMEOUT_S = 30.0


async def _frame(websocket: WebSocket) -> str | bytes:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    return text if text is not None else message.get("bytes") or b""


CLOSE_TRY_AGAIN_LATER = 1013
"""RFC 6455's "try again later": the handshake was not admitted in time (a reconnect storm)."""

BUSY_MESSAGE = "too many agents are connecting at once; try again after Retry-After seconds"


class _NotAdmitted(Exception):
    """The handshake waited its turn at the gate in vain."""


async def deny_busy(scope: Scope, send: Send, retry_after: int) -> None:
    """Answer a WebSocket upgrade with HTTP 503 and `Retry-After` instead of accepting it (or, on
    a server without the ASGI denial-response extension, close it before the accept: HTTP 403)."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
        return
    body = json.dumps(
        {"error": {"code": "busy", "message": BUSY_MESSAGE, "details": {"retry_after_s": retry_after}}}
    ).encode()
    headers = [(b"retry-after", str(retry_after).encode()), (b"content-type", b"application/json")]
    await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


@contextlib.asynccontextmanager
async def _admitted(app: Any, *, ahead: bool = False) -> AsyncIterator[None]:
    """Hold one of the app's `agent_handshakes` places for the handshake's database work; `ahead`
    (the second part of a handshake) goes before every first part that waits.

    A waiter gives up after `agent_handshake_wait_s` plus twice the wait its place in the queue
    was expected to take (the queue is bounded, so that is bounded too); the second part not
    before `HELLO_TIMEOUT_S`: on a starved machine (load average 13) hellos were closed with 1013
    after their accept and key lookup had been paid for.

    Raises:
        _NotAdmitted: no place came free in that time.
    """
    gate: HandshakeGate = started(app, "agent_handshake_gate")
    patience = app.state.settings.agent_handshake_wait_s + 2 * gate.expected_wait_s()
    if ahead:  # accepted, its hello read: giving up now would waste what it cost, so wait longer
        patience = max(patience, HELLO_TIMEOUT_S)
    try:
        await asyncio.wait_for(gate.acquire(ahead=ahead), patience)
    except TimeoutError:
        raise _NotAdmitted from None
    began = time.perf_counter()
    try:
        yield
    finally:
        gate.observe(time.perf_counter() - began)
        gate.release()
        if ahead:
            gate.completed()


@router.websocket("/agents/connect")
async def connect(websocket: WebSocket) -> None:
    """Shake hands with an agent, then serve it until it goes.

    The handshake's database work (the key's lookup; the hello's reconciliation, a write
    transaction) is the expensive part of a connection, and thousands at once after a restart kept
    API requests waiting behind them for seconds. At most `agent_handshakes` of those run at once
    (the wait for the hello frame holds no place), the reconciliations of handshakes under way
    before the key lookups of new ones (`runtime/admission.py`). A connection that finds
    `agent_handshake_queue` waiting is answered 503 with a `Retry-After` before it is accepted
    (`api/agent_door.py`); one that waits in vain is answered the same if it was not accepted yet,
    and closed with 1013 (try again later) if it was (its hello waited)."""
    try:
        await _connect(websocket)
    except _NotAdmitted:
        if websocket.client_state.name == "CONNECTING":
            gate: HandshakeGate = started(websocket.app, "agent_handshake_gate")
            with contextlib.suppress(Exception):
                await deny_busy(websocket.scope, websocket.send, gate.late_refusal())
            return
        await _refuse(
            websocket, CLOSE_TRY_AGAIN_LATER, "busy", "too many agents are connecting at once; try again in a moment"
        )


async def _connect(websocket: WebSocket) -> None:  # noqa: C901
    app = websocket.app
    settings, hub, db = app.state.settings, app.state.agent_hub, app.state.db
    header = websocket.headers.get("authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else ""
    async with _admitted(app), db.transaction() as session:
        agent = await authenticate_agent(session, key) if key else None
        identity = (agent.id, agent.org_id, agent.name) if agent is not None else None
    await websocket.accept()
    if identity is None:
        await _refuse(websocket, CLOSE_UNAUTHORIZED, "unauthorized", "the agent key is missing, unknown or revoked")
        return
    agent_id, org_id, name = identity

    lock = asyncio.Lock()

    async def send(message: Any) -> None:
        async with lock:
            await websocket.send_text(encode(message))

    async def close(code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await send(ErrorMessage(code="closed", message=reason))
        with contextlib.suppress(Exception):
            await websocket.close(code=code, reason=reason[:120])

    connection = ServerConnection(
        str(agent_id),
        settings.heartbeat_interval_s,
        max_bytes=settings.max_frame_bytes,
        lease_s=settings.agent_grace_s or None,
    )
    link: AgentLink | None = None
    try:
        hello = connection.receive(await asyncio.wait_for(_frame(websocket), HELLO_TIMEOUT_S))
        assert isinstance(hello, Hello)
        hub.connecting(agent_id)
        async with _admitted(app, ahead=True):
            reconciled = await reconcile(db, agent_id, hello)
            link = AgentLink(
                agent_id=agent_id,
                org_id=org_id,
                name=hello.name or name,
                send=send,
                close=close,
                capabilities=frozenset(hello.capabilities),
                labels=reconciled.labels,
                steps=frozenset(hello.steps),
                max_jobs=hello.max_jobs,
                version=hello.version,
                connection=connection,
            )
            for execution_id, attempt in reconciled.keep.items():
                link.hold(execution_id, attempt)
            session_ = AgentSession(
                db,
                hub,
                link,
                connection,
                writer=app.state.agent_writer,
                log_budget=LogBudget(settings.agent_log_bytes_per_minute),
                checkpoints=getattr(app.state, "session_checkpoints", None),
            )
            for job in reconciled.reclaimed:
                log.info(
                    "agent %s reclaimed execution %s (attempt %d): nobody took it while it was away",
                    escape_control(hello.name),
                    job.execution_id,
                    job.attempt,
                )
            await send(connection.welcome(reconciled.stop, reconciled.reclaimed))
            previous = hub.register(link)
        if reconciled.requeued:
            hub.on_free(work=True)
        if reconciled.taken_back:
            await stop_taken_back(hub, reconciled.taken_back)
        if previous is not None:
            await previous.close(CLOSE_REPLACED, "replaced by a newer connection of the same agent")
        await _serve(websocket, session_, send)
    except ProtocolError as error:
        log.warning(
            "agent %s: %s (%s); closing its connection", escape_control(name), escape_control(error.message), error.code
        )
        with contextlib.suppress(Exception):
            await send(connection.refuse(error))
            await websocket.close(code=error.close_code, reason=error.message[:120])
    except TimeoutError:
        await close(CLOSE_PROTOCOL_ERROR, f"no hello within {HELLO_TIMEOUT_S:g} s")
    except WebSocketDisconnect:
        pass
    except asyncio.CancelledError:  # the server is stopping
        await close(CLOSE_GOING_AWAY, "the orchestrator is stopping")
        raise
    finally:
        if link is not None:
            hub.unregister(link)
            with contextlib.suppress(Exception):
                async with _disconnect_writes(app):
                    await record_disconnect(db, agent_id)


DISCONNECT_WRITES = 4
"""Disconnections recorded at once. Each is a write transaction holding one of the request pool's
connections while it waits for SQLite's write lock: when thousands of agents drop together (a
partition, heartbeats missed in a storm) they took the whole pool, and API reads waited seconds
for a connection."""


def _disconnect_writes(app: Any) -> asyncio.Semaphore:
    writes: asyncio.Semaphore | None = getattr(app.state, "agent_disconnect_writes", None)
    if writes is None:  # made on the app's loop, at the first disconnection
        writes = app.state.agent_disconnect_writes = asyncio.Semaphore(DISCONNECT_WRITES)
    return writes


WINDOW = 1024
"""Messages of one connection being handled at once; the next frame is read once one is answered.
An agent sends about three per job (accepted, journal, finished): with 96 jobs running, a window of
128 held its reports ~180 ms on the socket and left the server a third idle."""

_AFTER_PREVIOUS = (JobFinished, SessionCheckpoint, ExecutionReport)
"""Handled only once the connection's earlier messages about the same execution are: a
`job.finished` answers from what the journal before it stored, a session checkpoint must be kept
before the journal batch after it, a report is the execution's first word."""


async def _serve(websocket: WebSocket, session: AgentSession, send: Any) -> None:
    """Answer the connection's messages, in order, while handling many at once.

    A message is handed to its handler as soon as it is read, without waiting for the ones before
    it: the handlers of the messages that arrive together put their database work in the same
    batch of the commit loop, which runs it in arrival order (`db/group_commit.py`). One agent
    with many jobs sends a stream of journal batches; handled one after another, each was a
    transaction of its own. The replies still go out in the order of the messages."""
    handlers: dict[type, Any] = {
        Heartbeat: session.on_heartbeat,
        JobAccepted: session.on_accepted,
        JobRejected: session.on_rejected,
        JournalBatch: session.on_journal,
        JobFinished: session.on_finished,
        LogLine: session.on_log,
        SessionCheckpoint: session.on_checkpoint,
        ExecutionReport: session.on_report,
    }
    pipeline = _Pipeline(send)

    async def read() -> None:
        while True:
            message = session.connection.receive(await _frame(websocket))
            handler = handlers.get(type(message))
            if handler is None:
                raise UnexpectedMessage(message.type, "an agent message")
            await pipeline.start(message, handler)

    reader, answerer = asyncio.ensure_future(read()), asyncio.ensure_future(pipeline.answer())
    try:
        await asyncio.wait([reader, answerer], return_when=asyncio.FIRST_COMPLETED)
        if not answerer.done():
            # The agent went away (or broke the protocol): what it sent before is stored, and
            # answered while the socket takes it, before the disconnection is dealt with.
            await pipeline.settle(answerer)
        if answerer.done():
            answerer.result()  # a handler's failure, or the socket's
        reader.result()
    finally:
        for task in (reader, answerer):
            task.cancel()
        await asyncio.gather(reader, answerer, return_exceptions=True)
        pipeline.abandon()


class _Pipeline:
    """The messages of one connection being handled, answered in the order they came.

    Each handler starts at once, or after the earlier messages about the same execution when its
    kind must (`_AFTER_PREVIOUS`) or when the message before it waits too (so a later message
    never overtakes it)."""

    def __init__(self, send: Any) -> None:
        self.send = send
        self.unanswered: deque[asyncio.Future[list[object]]] = deque()
        self.arrived = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.room = asyncio.Semaphore(WINDOW)
        self.last: dict[str, tuple[asyncio.Future[list[object]], bool]] = {}
        """By execution: the future of its latest message, and whether that one waits for earlier ones."""

    async def start(self, message: Any, handler: Any) -> None:
        """Start handling `message` (waits while `WINDOW` messages are unanswered)."""
        await self.room.acquire()
        self.unanswered.append(self._handle(message, handler))
        self.idle.clear()
        self.arrived.set()

    def _handle(self, message: Any, handler: Any) -> asyncio.Future[list[object]]:
        execution_id: str | None = getattr(message, "execution_id", None)
        before = self.last.get(execution_id) if execution_id else None
        prior = before[0] if before is not None and not before[0].done() else None
        waits = isinstance(message, _AFTER_PREVIOUS) or (before is not None and prior is not None and before[1])
        work = _after(prior, handler, message) if prior is not None and waits else handler(message)
        future: asyncio.Future[list[object]] = asyncio.ensure_future(work)
        if execution_id:
            self.last[execution_id] = (future, waits)
            future.add_done_callback(lambda done: self._forget(execution_id, done))
        return future

    def _forget(self, execution_id: str, future: asyncio.Future[list[object]]) -> None:
        if execution_id in self.last and self.last[execution_id][0] is future:
            del self.last[execution_id]

    async def answer(self) -> None:
        """Send each message's replies once it and every message before it are handled."""
        while True:
            while not self.unanswered:
                self.arrived.clear()
                await self.arrived.wait()
            head = self.unanswered[0]
            if not head.done():  # `wait` takes a turn of the loop even for a done future
                await asyncio.wait([head])  # not `await head`: the connection's end must not cancel it
            for reply in head.result():
                await self.send(reply)
            self.unanswered.popleft()
            self.room.release()
            if not self.unanswered:
                self.idle.set()

    async def settle(self, answerer: asyncio.Future[None]) -> None:
        """Wait until every message read is handled, and answered unless `answerer` fails."""
        handling = [future for future in self.unanswered if not future.done()]
        if handling:
            await asyncio.wait(handling)
        answered: asyncio.Future[Any] = asyncio.ensure_future(self.idle.wait())
        try:
            await asyncio.wait([answered, answerer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()

    def abandon(self) -> None:
        """The connection ended: what is still being handled is stored all the same, unanswered."""
        for future in self.unanswered:
            future.add_done_callback(_retrieved)
        self.unanswered.clear()


async def _after(before: asyncio.Future[list[object]], handler: Any, message: Any) -> list[object]:
    await asyncio.wait([before])  # its failure is reported in its own turn
    result: list[object] = await handler(message)
    return result


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("a message of a closed connection was not stored: %s", future.exception())


async def _refuse(websocket: WebSocket, code: int, error: str, message: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(encode(ErrorMessage(code=error, message=message)))
        await websocket.close(code=code, reason=message[:120])
