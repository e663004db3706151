"""Fencing: an agent that has heard nothing from the orchestrator for as long as the orchestrator
waits before it hands the agent's executions to another agent (the lease) starts no more steps
with outside effects, until a new connection's `welcome` says which executions are still its own.

The lease is counted from when the agent *sent* the heartbeat the orchestrator acknowledged (the
orchestrator received it later, so its own count starts later): on the agent's monotonic clock,
steps may start until `sent + lease - margin`. A step that started before that point runs on;
`docs/agents.md` ("Fencing") gives the window in which it can overlap with another agent's run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from shared.errors import StepCancelled
from shared.steps import StepDefinition, StepRegistry, context

DEFAULT_LEASE_S = 10.0
"""The lease assumed when the orchestrator does not announce one: its default grace."""
POLL_S = 0.05


def margin_for(lease_s: float) -> float:
    """Kept back from the lease: a tenth of it, at most a second (a step's first effect comes a
    moment after the fence let it start)."""
    return min(1.0, lease_s / 10)


class Fence:
    """Whether steps may start now. Thread-safe to read: steps check it from worker threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open_until = 0.0
        self.lease_s = DEFAULT_LEASE_S

    def renew(self, sent_at: float, lease_s: float | None = None) -> None:
        """The orchestrator answered a message sent at `sent_at` (monotonic): steps may start
        until `sent_at + lease - margin`.

        Args:
            sent_at: when the acknowledged message was sent, on this fence's clock.
            lease_s: the lease the orchestrator announced, if it did (kept for later renewals).
        """
        if lease_s is not None:
            self.lease_s = lease_s
        self._open_until = max(self._open_until, sent_at + self.lease_s - margin_for(self.lease_s))

    def close(self) -> None:
        """No step may start until the next renewal (the connection was replaced)."""
        self._open_until = 0.0

    def is_open(self) -> bool:
        """Whether a step may start now."""
        return self._clock() < self._open_until

    def open_for(self) -> float:
        """Seconds the fence stays open without a renewal (≤ 0 when it is closed)."""
        return self._open_until - self._clock()

    def expired_for(self) -> float:
        """Seconds since the fence closed (≤ 0 while it is open)."""
        return self._clock() - self._open_until


def has_outside_effects(definition: StepDefinition) -> bool:
    """Whether a step type acts on the world (and must not start while fenced): an action whose
    definition does not say it is pure (`effects=False`). Routers, containers and sub-flow calls
    only direct the flow."""
    return definition.kind == "action" and definition.effects


def fenced_registry(registry: StepRegistry, fence: Fence) -> StepRegistry:
    """The same steps, each with outside effects waiting for `fence` to be open before it runs."""
    return StepRegistry([_gated(d, fence) if has_outside_effects(d) and d.fn is not None else d for d in registry])


def _gated(definition: StepDefinition, fence: Fence) -> StepDefinition:
    fn = definition.fn
    assert fn is not None
    if definition.is_async:

        async def gate_async(params: Any) -> Any:
            ctx = context()
            while not fence.is_open():
                ctx.raise_if_cancelled()
                await asyncio.sleep(POLL_S)
            return await fn(params)

        return dataclasses.replace(definition, fn=gate_async)

    def gate(params: Any) -> Any:
        ctx = context()
        while not fence.is_open():
            if ctx.cancel_event.wait(POLL_S):
                raise StepCancelled("the execution was cancelled")
        return fn(params)

    return dataclasses.replace(definition, fn=gate)
