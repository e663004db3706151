"""The agents' door at the HTTP parser (`api/agent_door_protocol.py`), over a real uvicorn socket.

In a storm every refused upgrade used to cost a WebSocket protocol, a second parse, an ASGI task
through the app's middleware and two log lines. Counted here, not timed: with the gate full, every
one of many pending agent upgrades is answered 503 with its turn while no WebSocket scope reaches
the app and uvicorn runs no task for them, and API requests are answered meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect as ws_connect

from orchestrator.api.agent_door_protocol import AGENT_SOCKET_PATH, AgentDoorProtocol, busy_response
from orchestrator.runtime.admission import HandshakeGate
from orchestrator.settings import Settings
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.test_agent_admission import _agent_key, _drain, _fill

PENDING = 200
"""Agent upgrades sent at once while the gate is full."""


@pytest.fixture
def database_url() -> None:
    """SQLite only: the door is in front of the database, whichever it is."""
    return None


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"agent_handshakes": 1, "agent_handshake_queue": 1, "agent_handshake_wait_s": 0.3}
    )


@dataclass
class Door:
    """The app served with `AgentDoorProtocol`, counting the scopes that reached it."""

    port: int
    server: uvicorn.Server
    scopes: list[str] = field(default_factory=list)


class _Counting:
    """The app, counting each scope's type; `state` is the app's, where the door finds the gate."""

    def __init__(self, app: FastAPI, scopes: list[str]) -> None:
        self.app, self.state, self.scopes = app, app.state, scopes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope["type"])
        await self.app(scope, receive, send)


@pytest.fixture
async def door(app: FastAPI) -> AsyncIterator[Door]:
    scopes: list[str] = []
    config = uvicorn.Config(
        _Counting(app, scopes),
        host="127.0.0.1",
        port=0,
        lifespan="off",
        http=AgentDoorProtocol,
        ws="websockets-sansio",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Door(server.servers[0].sockets[0].getsockname()[1], server, scopes)
    finally:
        server.should_exit = True
        await task


def _upgrade(port: int, key: str) -> bytes:
    return (
        f"GET {AGENT_SOCKET_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
    ).encode()


async def _knock(port: int, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_upgrade(port, key))
    await writer.drain()
    return reader, writer


def test_the_door_path_is_where_the_app_serves_agents(app: FastAPI) -> None:
    paths = {getattr(route, "path", None) for route in app.routes}
    assert AGENT_SOCKET_PATH in paths


def test_the_busy_answer_is_a_whole_http_503_with_its_turn() -> None:
    answer = busy_response(7, [(b"date", b"Mon, 07 Dec 2026 10:00:00 GMT")])
    head, body = answer.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 503 Service Unavailable"
    assert b"retry-after: 7" in lines
    assert b"date: Mon, 07 Dec 2026 10:00:00 GMT" in lines
    assert f"content-length: {len(body)}".encode() in lines
    assert b'"retry_after_s": 7' in body


async def test_pending_upgrades_past_the_gate_are_refused_at_the_parser_while_api_reads_are_answered(
    app: FastAPI, tenant: TenantFactory, door: Door
) -> None:
    key = await _agent_key(app, tenant)
    gate: HandshakeGate = app.state.agent_handshake_gate
    waiter = await _fill(gate)
    pending = [await _knock(door.port, key) for _ in range(PENDING)]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{door.port}") as http:
        assert (await http.get("/healthz")).status_code == 200  # an API read among the pending upgrades
        answers = [await reader.read() for reader, _ in pending]  # read to the close
        for _, writer in pending:
            writer.close()
        assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers)
        assert all(b"\r\nretry-after: " in answer for answer in answers)
        assert gate.refused == PENDING
        assert door.scopes == ["http"]  # only the API read reached the app: no WebSocket scope, no task
        assert (await http.get("/healthz")).status_code == 200
    await _drain(gate, waiter)


async def test_an_admitted_upgrade_goes_on_to_the_app_as_before(
    app: FastAPI, tenant: TenantFactory, door: Door
) -> None:
    key = await _agent_key(app, tenant)
    headers: dict[str, Any] = {"Authorization": f"Bearer {key}"}
    async with ws_connect(f"ws://127.0.0.1:{door.port}{AGENT_SOCKET_PATH}", additional_headers=headers):
        pass
    assert door.scopes == ["websocket"]
    assert app.state.agent_handshake_gate.refused == 0


async def test_a_burst_lets_through_at_the_parser_no_more_than_the_queue_holds(
    app: FastAPI, tenant: TenantFactory, door: Door
) -> None:
    # The parser answers before any connection it let through has reached the queue: counted only
    # once queued, a burst all passed (the queue looked empty), to be refused by the app's door
    # after its upgrade. Those let through count as queued until the app's door sees them.
    key = await _agent_key(app, tenant)
    gate: HandshakeGate = app.state.agent_handshake_gate
    gate.queue, gate.max_wait_s = 5, None
    await gate.acquire()  # the one place taken: whoever is let through waits
    try:
        pending = [await asyncio.open_connection("127.0.0.1", door.port) for _ in range(40)]
        await asyncio.sleep(0.2)  # all accepted by the server, nothing sent yet
        for _, writer in pending:  # then all written at once: one turn of the server's loop reads them
            writer.write(_upgrade(door.port, key))
        answers = [await reader.read() for reader, _ in pending]
        for _, writer in pending:
            writer.close()
    finally:
        gate.release()
    assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers)
    assert door.scopes.count("websocket") <= 5  # at most the queue's worth upgraded
    assert gate.refused >= 35  # the others refused at the parser, before any upgrade


async def test_agents_dropping_together_record_their_disconnection_a_few_at_a_time(
    app: FastAPI, tenant: TenantFactory, door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each record is a write transaction holding a connection of the request pool while it waits
    # for SQLite's write lock: thousands dropping at once took the whole pool from API reads.
    import shared.protocol as wire
    from orchestrator.api.routes import agent_socket

    gate: HandshakeGate = app.state.agent_handshake_gate
    gate.queue, gate.max_wait_s = 100, None
    inside, most, done, go = [0], [0], [0], asyncio.Event()
    real = agent_socket.record_disconnect

    async def counted(db: Any, agent_id: Any) -> None:  # the real write, counted and held back
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        try:
            await go.wait()
            await real(db, agent_id)
            done[0] += 1
        finally:
            inside[0] -= 1

    monkeypatch.setattr(agent_socket, "record_disconnect", counted)
    sockets = []
    for n in range(agent_socket.DISCONNECT_WRITES * 2):
        key = await _agent_key(app, tenant)
        socket = await ws_connect(
            f"ws://127.0.0.1:{door.port}{AGENT_SOCKET_PATH}", additional_headers={"Authorization": f"Bearer {key}"}
        )
        hello = wire.Hello(protocol_version=wire.PROTOCOL_VERSION, name=f"host-{n}", version="test", max_jobs=1)
        await socket.send(wire.encode(hello))
        assert isinstance(wire.decode_server_message(await socket.recv()), wire.Welcome)
        sockets.append(socket)
    for socket in sockets:
        await socket.close()
    for _ in range(500):
        if most[0] >= agent_socket.DISCONNECT_WRITES:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # had more than the bound been let in, they would be inside by now
    assert most[0] == agent_socket.DISCONNECT_WRITES
    go.set()
    for _ in range(500):
        if done[0] == len(sockets):
            break
        await asyncio.sleep(0.01)
    assert done[0] == len(sockets)  # every one recorded in the end
