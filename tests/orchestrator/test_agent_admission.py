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

    async def fill() -> asyncio.Semaphore:
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


async def _release(gate: asyncio.Semaphore) -> None:
    gate.release()
