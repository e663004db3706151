"""What every source needs around its own protocol: stop-aware waits, reconnect backoff with
its status line, and bounded lists kept in a cursor.

A source's loop is async; blocking clients (IMAPClient, fsspec's FTP) run each call in a worker
thread through `asyncio.to_thread`, one call at a time, so a client is never used by two
threads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.triggers.sources._api import SourceContext, SourceError

__all__ = ["Backoff", "bounded", "sleep_or_stop"]


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop` is set; True when stopped."""
    if stop.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    return stop.is_set()


@dataclass
class Backoff:
    """Reconnect delays doubling from `initial` up to `maximum`; after `attempts` failures in a
    row the source gives up with a `SourceError` (the framework records it and retries later).

    `reset()` after a connection that worked, so a server that drops once a day never runs out
    of attempts.
    """

    initial: float
    maximum: float
    attempts: int
    failures: int = 0

    def reset(self) -> None:
        """A connection worked: the next failure starts from `initial` again."""
        self.failures = 0

    async def wait(self, ctx: SourceContext, what: str, error: str) -> bool:
        """Record one failure, show `reconnecting in N s` and wait; True when stopped meanwhile.

        Raises:
            SourceError: the `attempts`-th failure in a row, naming `what` and the last `error`.
        """
        self.failures += 1
        if self.failures >= self.attempts:
            raise SourceError(f"{what}: gave up after {self.failures} failed attempts in a row: {error}")
        delay = min(self.maximum, self.initial * 2 ** (self.failures - 1))
        ctx.status(f"reconnecting in {delay:g} s ({what}: {error})")
        return await sleep_or_stop(ctx.stop, delay)


def bounded(items: Iterable[str], limit: int) -> list[str]:
    """The last `limit` distinct items, oldest first (a cursor must stay small)."""
    seen: dict[str, None] = {}
    for item in items:
        seen.pop(item, None)
        seen[item] = None
    kept = list(seen)
    return kept[-limit:] if limit > 0 else []
