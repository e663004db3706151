"""Starting coroutines from Qt signal handlers: on the running loop (qasync's in the studio), with
a reference kept until they finish (a task nobody holds may be collected mid-way)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger("studio.remote")
_running: set[asyncio.Task[Any]] = set()


def spawn(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Run `coroutine` as a task on the running loop; None (and not run) when no loop runs."""
    try:
        task = asyncio.get_running_loop().create_task(coroutine)
    except RuntimeError:
        coroutine.close()
        logger.debug("no asyncio loop is running: the orchestrator call was not made")
        return None
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
