"""The common base of the orchestrator's background loops (dispatcher, lease reaper, …): one
asyncio task each, started by the app's lifespan and stopped with it."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundService:
    """Subclasses implement `_run()`, a loop that runs until cancelled."""

    name = "background"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
