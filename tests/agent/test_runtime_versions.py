"""An agent against an orchestrator that speaks only older protocol versions (1: a release before
`welcome.reclaimed`; 2: before `welcome.lease_s`): refused in the newest, it steps down one version
at once until one is spoken, and tries the newest again on its next connection. The orchestrator
here is a WebSocket server on loopback that answers as the old one did."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.runtime import AgentConfig, AgentRuntime
from shared.protocol import CLOSE_UNSUPPORTED_VERSION, PROTOCOL_VERSION, ErrorMessage, Welcome, encode


class OldOrchestrator:
    """Answers a `hello` of version 1 with a version-1 welcome, and refuses any other version
    with `unsupported_version` (close code 4426); `drop()` closes the open connections."""

    def __init__(self, versions: frozenset[int] = frozenset({1})) -> None:
        self.versions = versions
        self.hellos: list[int] = []
        self.welcomed = asyncio.Event()
        self._open: set[Any] = set()
        self.port = 0

    async def _handle(self, ws: Any) -> None:
        hello = json.loads(await ws.recv())
        self.hellos.append(hello["protocol_version"])
        if hello["protocol_version"] not in self.versions:
            listed = ", ".join(map(str, sorted(self.versions)))
            await ws.send(
                encode(
                    ErrorMessage(
                        code="unsupported_version",
                        message=(
                            f"protocol version {hello['protocol_version']} is not supported; "
                            f"supported versions: {listed}"
                        ),
                    )
                )
            )
            await ws.close(CLOSE_UNSUPPORTED_VERSION, "unsupported protocol version")
            return
        await ws.send(
            encode(
                Welcome(
                    protocol_version=hello["protocol_version"],
                    agent_id="agt_1",
                    heartbeat_interval_s=30.0,
                    server_time=time.time(),
                )
            )
        )
        self.welcomed.set()
        self._open.add(ws)
        with contextlib.suppress(Exception):
            async for _ in ws:  # heartbeats
                pass
        self._open.discard(ws)

    async def drop(self) -> None:
        self.welcomed.clear()
        for ws in list(self._open):
            await ws.close()


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    from websockets.asyncio.server import serve as ws_serve

    servers: list[Any] = []

    async def start(orchestrator: OldOrchestrator) -> OldOrchestrator:
        server = await ws_serve(orchestrator._handle, "127.0.0.1", 0)
        servers.append(server)
        orchestrator.port = server.sockets[0].getsockname()[1]
        return orchestrator

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def _running(tmp_path: Path, port: int) -> tuple[AgentRuntime, asyncio.Task[None]]:
    runtime = AgentRuntime(
        AgentConfig(
            url=f"http://127.0.0.1:{port}",
            key="rpa_ak_test",
            name="laptop",
            home=tmp_path / "agent",
            backoff_min_s=0.05,
            backoff_max_s=0.1,
        )
    )
    return runtime, asyncio.get_running_loop().create_task(runtime.run())


async def _stop(runtime: AgentRuntime, task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    runtime.outbox.close()


async def test_refused_in_versions_5_to_2_the_agent_speaks_1_at_once_and_tries_5_again_next_time(
    tmp_path: Path, serve: Any
) -> None:
    assert PROTOCOL_VERSION == 5
    old = await serve(OldOrchestrator())
    runtime, task = await _running(tmp_path, old.port)
    try:
        await asyncio.wait_for(runtime.connected.wait(), 10)
        assert old.hellos == [5, 4, 3, 2, 1]
        assert runtime.protocol_version == 1
        await old.drop()  # e.g. the orchestrator restarts
        await asyncio.wait_for(old.welcomed.wait(), 10)
        assert old.hellos == [5, 4, 3, 2, 1, 5, 4, 3, 2, 1]  # the newest first on every new connection
    finally:
        await _stop(runtime, task)


@pytest.mark.parametrize("newest", [2, 3, 4, 5])
async def test_an_orchestrator_is_spoken_the_newest_version_it_speaks(tmp_path: Path, serve: Any, newest: int) -> None:
    current = await serve(OldOrchestrator(frozenset(range(1, newest + 1))))
    runtime, task = await _running(tmp_path, current.port)
    try:
        await asyncio.wait_for(runtime.connected.wait(), 10)
        assert current.hellos == list(range(5, newest - 1, -1))
        assert runtime.protocol_version == newest
    finally:
        await _stop(runtime, task)


async def test_refused_in_every_version_the_agent_waits_and_starts_again_from_the_newest(
    tmp_path: Path, serve: Any
) -> None:
    nobody = await serve(OldOrchestrator(frozenset()))  # refuses every version, 1 included
    runtime, task = await _running(tmp_path, nobody.port)
    try:
        for _ in range(200):
            if len(nobody.hellos) >= 10:
                break
            await asyncio.sleep(0.02)
        # 5, 4, 3, 2, then 1 at once; refused in 1 too, with nothing older, it waits and starts again from 5
        # (an orchestrator upgraded past version 1 meanwhile would take it).
        assert nobody.hellos[:10] == [5, 4, 3, 2, 1, 5, 4, 3, 2, 1]
        assert not runtime.connected.is_set()
    finally:
        await _stop(runtime, task)
