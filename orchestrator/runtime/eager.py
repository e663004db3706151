"""Start a coroutine in the caller's turn of the event loop instead of the next one.

`create_task` runs nothing before the loop's next turn, and under load a turn is long: it runs a
commit-loop batch and every socket's waiting callbacks (bench/README.md has the figures). The
dispatcher's `job.assign` frames, sent from a task made when the batch committed,
left one whole turn after the commit that decided them. Most sends wait for nothing (the
socket's lock is free, the transport takes the bytes), so run at once they are written before
the commit loop moves on. This is what `asyncio.eager_task_factory` does from Python 3.12.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


def start_now(coro: Coroutine[Any, Any, None], *, keep: set[asyncio.Task[None]]) -> None:
    """Run `coro` now up to the first point where it waits; from there a task carries it on (kept
    in `keep` until it ends). What it raises is logged, as a task's unretrieved error would be."""
    try:
        waiting = coro.send(None)
    except StopIteration:
        return
    except Exception:
        log.exception("%s failed", getattr(coro, "__qualname__", "a coroutine"))
        return
    task = asyncio.get_running_loop().create_task(_carry_on(coro, waiting))
    keep.add(task)
    task.add_done_callback(keep.discard)


async def _carry_on(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive `coro` from where it stopped, as the task that ran it would have: `waiting` is what it
    yielded (the future it waits for, or None for a bare turn)."""
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                waiting._asyncio_future_blocking = False  # taken over, as a task takes it over
                await asyncio.wait([waiting])  # its result or error goes to `coro` on resuming
            try:
                waiting = coro.send(None)
            except StopIteration:
                return
    except asyncio.CancelledError:
        coro.close()
        raise
    except Exception:
        log.exception("%s failed", getattr(coro, "__qualname__", "a coroutine"))
