"""The task that runs one leased `TriggerSource`, with backoff after its failures.

The source gets a `SourceContext` whose `emit` stores the event with its execution (and the
event's attachments as the execution's artifacts) before it returns, whose cursor is written only
while this process holds the lease, and whose `stop` is set when the trigger is paused, changed,
deleted, taken over, or the process stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from orchestrator.services.artifacts import receive_artifact
from orchestrator.services.executions import get_execution
from orchestrator.triggers._fire import TriggerSpec
from orchestrator.triggers.sources._api import SourceContext, SourceError, SourceEvent, TriggerSource

if TYPE_CHECKING:
    from orchestrator.triggers._runner import TriggerRunner

log = logging.getLogger("rpa.orchestrator.triggers")

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class _Cursor:
    def __init__(self, runner: TriggerRunner, spec: TriggerSpec) -> None:
        self.runner = runner
        self.spec = spec

    async def load(self) -> dict[str, Any]:
        return await self.runner.load_cursor(self.spec.id)

    async def save(self, state: dict[str, Any]) -> None:
        if not await self.runner.save_cursor(self.spec.id, state):
            raise SourceError("this process no longer holds the trigger's lease; another one runs it")


async def run_source(runner: TriggerRunner, spec: TriggerSpec, cls: type[TriggerSource], stop: asyncio.Event) -> None:
    """Run the source until `stop`; a `SourceError` or a crash is recorded and retried with backoff."""
    failures = 0
    config = cls.config_model.model_validate(spec.config)

    async def emit(event: SourceEvent) -> bool:
        fired = await runner.firer.fire(spec, event.key, event.payload, source=spec.kind)
        if fired.new and fired.execution_id is not None and event.attachments:
            await _attach(runner, spec, fired.execution_id, event)
        return fired.new

    ctx = SourceContext(
        trigger_id=str(spec.id),
        emit=emit,
        cursor=_Cursor(runner, spec),
        secret=runner.secrets(spec.org_id),
        status=lambda text: runner.status(spec.id, text),
        stop=stop,
    )
    while not stop.is_set():
        try:
            await cls().run(config, ctx)
            failures = 0
            if stop.is_set():
                return
            message = "the source returned without being stopped"
            retryable = True
        except SourceError as exc:
            message, retryable = exc.message, exc.retryable
        except Exception as exc:  # a source's bug must not end the runner
            log.exception("trigger %s: the %s source failed", spec.id, spec.kind)
            message, retryable = f"{type(exc).__name__}: {exc}", True
        await runner.error(spec.id, message)
        if not retryable:
            runner.status(spec.id, f"stopped: {message}"[:200])
            await stop.wait()
            return
        delay = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
        failures += 1
        runner.status(spec.id, f"retrying in {delay:g} s after: {message}"[:200])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def _attach(runner: TriggerRunner, spec: TriggerSpec, execution_id: Any, event: SourceEvent) -> None:
    if runner.store is None:
        return
    for attachment in event.attachments:

        async def chunks(data: bytes = attachment.content) -> AsyncIterator[bytes]:
            yield data

        async with runner.db.transaction() as session:
            execution = await get_execution(session, spec.org_id, execution_id)
            await receive_artifact(
                session,
                runner.store,
                execution,
                name=attachment.name,
                chunks=chunks(),
                limit=max(len(attachment.content), 1),
                content_type=attachment.content_type,
            )
