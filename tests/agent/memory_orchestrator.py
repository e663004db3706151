"""An orchestrator in memory for runtime tests: `shared.protocol.ServerConnection` driven over
`agent.runtime.memory_pair()`, acknowledging heartbeats and journals as the real one does.

- `assign(job)`: send a job.assign on the open connection (and let it report on it).
- `cut(clean=False)`: drop the open connection, as a network failure does.
- `silent`: while set, nothing is answered or acknowledged, no hello welcomed (a frozen orchestrator).
- `received`: every message of every connection, in order; `connections`: the hellos.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.runtime import MemoryTransport, Transport, TransportClosed, memory_pair
from shared.protocol import (
    Heartbeat,
    Hello,
    JobAssign,
    JobFinished,
    JobRejected,
    JournalAck,
    JournalBatch,
    ServerConnection,
    encode,
)
from shared.steps import StepRegistry, context, step


class MemoryOrchestrator:
    def __init__(
        self, *, heartbeat_interval_s: float = 0.05, lease_s: float | None = None, welcome: dict[str, Any] | None = None
    ) -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.lease_s = lease_s
        self.welcome_fields = welcome or {}
        self.received: list[Any] = []
        self.hellos: list[Hello] = []
        self.events: dict[str, list[int]] = {}
        self.finished: dict[str, JobFinished] = {}
        self.rejected: list[JobRejected] = []
        self.silent = False
        self.connection: ServerConnection | None = None
        self.end: MemoryTransport | None = None
        self.connect_times: list[float] = []
        self.ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def connector(self) -> AsyncIterator[Transport]:
        self.connect_times.append(time.monotonic())
        agent_end, server_end = memory_pair()
        task = asyncio.get_running_loop().create_task(self._serve(server_end))
        self._tasks.add(task)
        try:
            yield agent_end
        finally:
            agent_end.close()
            self._tasks.discard(task)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(self, end: MemoryTransport) -> None:
        connection = ServerConnection("agt_1", self.heartbeat_interval_s, lease_s=self.lease_s)
        hello = connection.receive(await end.recv())
        assert isinstance(hello, Hello)
        self.hellos.append(hello)
        await self._awake()  # a frozen orchestrator answers no hello either
        for job in hello.running:
            connection.assign(job.execution_id, job.attempt)
        await end.send(encode(connection.welcome(**self.welcome_fields)))
        self.connection, self.end = connection, end
        self.ready.set()
        try:
            while True:
                message = connection.receive(await end.recv())
                self.received.append(message)
                if self.silent:
                    continue
                for reply in self._answer(connection, message):
                    await end.send(encode(reply))
        except TransportClosed:
            pass
        finally:
            if self.end is end:
                self.connection, self.end = None, None
                self.ready.clear()

    async def _awake(self) -> None:
        deadline = time.monotonic() + 60
        while self.silent and time.monotonic() < deadline:  # noqa: ASYNC110 (a flag the test flips)
            await asyncio.sleep(0.01)

    def heartbeats(self) -> list[Heartbeat]:
        return [m for m in self.received if isinstance(m, Heartbeat)]

    def _answer(self, connection: ServerConnection, message: Any) -> list[Any]:
        if isinstance(message, Heartbeat):
            return [connection.heartbeat_ack(message.id)]  # with the lease, as the orchestrator does
        if isinstance(message, JournalBatch):
            stored = self.events.setdefault(message.execution_id, [])
            stored.extend(e.seq for e in message.events if not stored or e.seq > stored[-1])
            return [JournalAck(execution_id=message.execution_id, seq=stored[-1])]
        if isinstance(message, JobFinished):
            self.finished[message.execution_id] = message
            connection.release(message.execution_id)
            stored = self.events.get(message.execution_id, [0])
            return [JournalAck(execution_id=message.execution_id, seq=stored[-1])]
        if isinstance(message, JobRejected):
            self.rejected.append(message)
            connection.release(message.execution_id)
        return []

    async def assign(self, job: JobAssign) -> None:
        await asyncio.wait_for(self.ready.wait(), 10)
        assert self.connection is not None
        assert self.end is not None
        self.connection.assign(job.execution_id, job.attempt)
        await self.end.send(encode(job))

    def cut(self, *, clean: bool = False) -> None:
        if self.end is not None:
            self.end.close(clean=clean)


def wait_flow(steps: int, seconds: float = 0.0) -> dict[str, Any]:
    """A flow of `steps` waits in a row."""
    nodes = [{"id": f"s{i}", "type": "core.wait", "params": {"seconds": seconds}} for i in range(steps)]
    edges = [{"from": f"s{i}", "to": f"s{i + 1}"} for i in range(steps - 1)]
    return {"schema": "rpa.flow/1", "name": "Waits", "nodes": nodes, "edges": edges}


async def until(predicate: Any, within: float = 10.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class EffectParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = 0.0


STARTS: list[tuple[str, float]] = []
"""(idempotency key, monotonic time) of every `test.effect` that really started."""


@step("test.effect", params=EffectParams, output="The idempotency key.")
def effect(params: EffectParams) -> str:
    """A step with outside effects: records when it really started, then takes `seconds`."""
    key = context().idempotency_key
    STARTS.append((key, time.monotonic()))
    time.sleep(params.seconds)
    return key


def effect_flow(steps: int, seconds: float = 0.0) -> dict[str, Any]:
    """A flow of `steps` steps with outside effects in a row."""
    flow = wait_flow(steps)
    for node in flow["nodes"]:
        node.update(type="test.effect", params={"seconds": seconds})
    return flow


def registry() -> StepRegistry:
    """The built-in steps and `test.effect`."""
    steps = StepRegistry.default(plugins=False)
    steps.add([effect])
    return steps
