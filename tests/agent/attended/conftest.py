"""An in-memory orchestrator that speaks protocol 5 (records attended reports), and one that
speaks only 4 (an orchestrator not upgraded yet)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from agent.attended import CachedFlow, FlowCache
from agent.runtime import AgentConfig, AgentRuntime, MemoryTransport
from shared.protocol import ErrorMessage, ExecutionRecorded, ExecutionReport, ServerConnection, encode
from tests.agent.memory_orchestrator import MemoryOrchestrator, registry


class ReportingOrchestrator(MemoryOrchestrator):
    """Records each `execution.report` (accepting the same id again), then takes its journal."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reports: list[ExecutionReport] = []
        self.refuse: str | None = None
        self.unanswered = 0
        """How many reports to leave unanswered (an answer lost with its connection)."""

    def _answer(self, connection: ServerConnection, message: Any) -> list[Any]:
        if isinstance(message, ExecutionReport):
            self.reports.append(message)
            if self.unanswered:
                self.unanswered -= 1
                return []
            if self.refuse is not None:
                return [ExecutionRecorded(execution_id=message.execution_id, accepted=False, reason=self.refuse)]
            connection.assign(message.execution_id, 1)
            return [ExecutionRecorded(execution_id=message.execution_id, accepted=True)]
        return super()._answer(connection, message)


class _FirstFrameAgain:
    """A transport end whose first `recv` returns a frame already read."""

    def __init__(self, end: MemoryTransport, first: str) -> None:
        self.end, self.first = end, first

    async def recv(self) -> str:
        if self.first is not None:
            first, self.first = self.first, None
            return first
        return await self.end.recv()

    async def send(self, frame: str) -> None:
        await self.end.send(frame)

    def close(self, *, clean: bool = False) -> None:
        self.end.close(clean=clean)


class Version4Orchestrator(ReportingOrchestrator):
    """Refuses a hello of version 5, as an orchestrator of version 4 does."""

    async def _serve(self, end: MemoryTransport) -> None:
        import json

        first = await end.recv()
        if json.loads(first)["protocol_version"] >= 5:
            await end.send(
                encode(ErrorMessage(code="unsupported_version", message="protocol version 5 is not supported"))
            )
            end.close()
            return
        await super()._serve(_FirstFrameAgain(end, first))  # type: ignore[arg-type]


def make_runtime(tmp_path: Path, server: MemoryOrchestrator) -> AgentRuntime:
    """An agent runtime plugged into `server` (in memory), with `test.effect` among its steps."""
    config = AgentConfig(
        url="http://memory",
        key="rpa_ak_test",
        name="desk-7",
        home=tmp_path / "agent",
        backoff_min_s=0.01,
        backoff_max_s=0.05,
    )
    return AgentRuntime(config, registry=registry(), connector=server.connector)


def cached(tmp_path: Path, document: dict[str, Any], *, version: int = 3) -> CachedFlow:
    """`document` kept in the flow cache as version `version` of a new workflow."""
    return FlowCache(tmp_path / "flows").put(str(uuid.uuid4()), version, document)
