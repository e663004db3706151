"""An in-memory `SourceContext` for the source tests: a dict-backed cursor that survives a
"restart" (a new run given the same cursor), an emit that records events and drops a key seen
before as the framework does, the statuses shown, and a vault of secrets."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from orchestrator.triggers.sources import SourceContext, SourceEvent, TriggerSource


@dataclass
class MemoryCursor:
    """The durable state; `saves` counts writes."""

    state: dict[str, Any] = field(default_factory=dict)
    saves: int = 0

    async def load(self) -> dict[str, Any]:
        return copy.deepcopy(self.state)

    async def save(self, state: dict[str, Any]) -> None:
        self.state = copy.deepcopy(state)
        self.saves += 1


@dataclass
class Recorder:
    """What the framework stores: one event per key; a repeated key is counted and refused."""

    events: list[SourceEvent] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    async def emit(self, event: SourceEvent) -> bool:
        assert len(event.key) <= 500, event.key
        if any(seen.key == event.key for seen in self.events):
            self.repeats.append(event.key)
            return False
        self.events.append(event)
        self.times.append(time.monotonic())
        return True

    @property
    def keys(self) -> list[str]:
        return [event.key for event in self.events]

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [event.payload for event in self.events]


@dataclass
class Harness:
    """One trigger's durable parts (cursor, stored events) across runs of its source."""

    secrets: dict[str, str] = field(default_factory=dict)
    cursor: MemoryCursor = field(default_factory=MemoryCursor)
    recorder: Recorder = field(default_factory=Recorder)
    statuses: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def secret(self, name: str) -> str:
        return self.secrets[name]

    def context(self) -> SourceContext:
        self.stop = asyncio.Event()
        return SourceContext(
            trigger_id="trigger-1",
            emit=self.recorder.emit,
            cursor=self.cursor,
            secret=self.secret,
            status=self.statuses.append,
            stop=self.stop,
        )

    def start(self, source: TriggerSource, config: BaseModel) -> asyncio.Task[None]:
        """Run the source in a task (a new run: the same cursor and stored events)."""
        self.task = asyncio.create_task(source.run(config, self.context()))
        return self.task

    async def stop_run(self, within: float = 5.0) -> None:
        """Set `stop` and wait for `run` to return (it must, within `within` seconds)."""
        assert self.task is not None
        self.stop.set()
        await asyncio.wait_for(self.task, within)
        self.task = None

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
        """Poll `predicate` until true; fail naming `what` and the statuses when it never is."""
        deadline = time.monotonic() + within
        while not predicate():
            if self.task is not None and self.task.done():
                self.task.result()  # the source ended: raise its error
                raise AssertionError(f"the source returned before {what or 'the condition'}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or 'the condition'}; statuses: {self.statuses[-5:]}")
            await asyncio.sleep(0.02)

    async def wait_events(self, count: int, within: float = 10.0) -> list[SourceEvent]:
        await self.wait_for(lambda: len(self.recorder.events) >= count, within, f"{count} event(s)")
        return self.recorder.events

    async def wait_status(self, prefix: str, within: float = 10.0) -> None:
        await self.wait_for(lambda: any(s.startswith(prefix) for s in self.statuses), within, f"status {prefix!r}")
