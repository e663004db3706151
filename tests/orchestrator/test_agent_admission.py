"""Admission control for agent handshakes: at most `agent_handshakes` do their database work at
once, and one not admitted within `agent_handshake_wait_s` is closed with 1013 (try again later),
before its key is even looked up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from orchestrator.app import create_app
from orchestrator.runtime.admission import HandshakeGate
from orchestrator.settings import Settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(environment="test", data_dir=tmp_path / "data", agent_handshakes=1, agent_handshake_wait_s=0.2)
    with TestClient(create_app(settings)) as client:
        yield client


def _closed_with(client: TestClient) -> tuple[int, str, Any]:
    with client.websocket_connect("/api/v1/agents/connect", headers={"Authorization": "Bearer rpa_ak_nope"}) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return closed.value.code, closed.value.reason, error


def test_a_handshake_not_admitted_in_time_is_told_to_try_again_later(server: TestClient) -> None:
    # Control: with a free place, the handshake goes on (and this key is refused as unknown).
    code, _, error = _closed_with(server)
    assert (code, error["code"]) == (4401, "unauthorized")

    async def fill() -> HandshakeGate:
        gate = server.app.state.agent_handshake_gate  # type: ignore[attr-defined]
        await gate.acquire()  # the one place is taken by a handshake that takes its time
        return gate

    assert server.portal is not None
    gate = server.portal.call(fill)
    try:
        code, reason, error = _closed_with(server)
        assert (code, error["code"]) == (1013, "busy")
        assert "try again in a moment" in reason
    finally:
        server.portal.call(lambda: _release(gate))
    code, _, _ = _closed_with(server)
    assert code == 4401


async def _release(gate: HandshakeGate) -> None:
    gate.release()


async def test_the_second_part_of_a_handshake_goes_before_new_handshakes() -> None:
    # In a storm, new connections queued ahead of the reconciliations of handshakes already under
    # way (one first-come queue): those timed out as well, and their key lookup was spent for nothing.
    gate = HandshakeGate(1)
    await gate.acquire()  # a handshake at work
    served: list[str] = []

    async def handshake(name: str, *, ahead: bool) -> None:
        await gate.acquire(ahead=ahead)
        served.append(name)
        await asyncio.sleep(0)
        gate.release()

    waiters = [
        asyncio.ensure_future(handshake("new 1", ahead=False)),
        asyncio.ensure_future(handshake("new 2", ahead=False)),
    ]
    await asyncio.sleep(0)
    waiters.append(asyncio.ensure_future(handshake("hello of one under way", ahead=True)))
    await asyncio.sleep(0)
    assert served == []
    assert gate.waiting == 3
    gate.release()
    await asyncio.gather(*waiters)
    assert served == ["hello of one under way", "new 1", "new 2"]


async def test_a_handshake_that_gives_up_waiting_takes_no_place_with_it() -> None:
    gate = HandshakeGate(1)
    await gate.acquire()
    with pytest.raises(TimeoutError):  # not admitted in time: its agent is told 1013
        await asyncio.wait_for(gate.acquire(), 0.01)
    later = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # skips the one that gave up
    await asyncio.wait_for(later, 1)
    gate.release()
    await asyncio.wait_for(gate.acquire(), 1)  # the place is free again, not lost nor doubled
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gate.acquire(ahead=True), 0.01)
