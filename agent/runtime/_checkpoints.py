"""Session checkpoints to the orchestrator: each new or changed file once per connection.

The files are `agent/session_checkpoints.py`'s. Only what changed since this connection last
sent it goes out (latest wins: a session stepped through ten times between two flushes sends
its state once); a file gone since (the session closed) is sent as `state: null` so the
orchestrator forgets it. A new connection sends every file again: the orchestrator may not
have stored what went out on the one that broke.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent import session_checkpoints as store
from shared.protocol import AgentMessage, SessionCheckpoint

log = logging.getLogger("rpa.agent")

Send = Callable[[AgentMessage], Awaitable[None]]


class CheckpointSender:
    """What one connection sent of the session checkpoints; make a new one for each connection."""

    def __init__(self) -> None:
        self.sent: dict[str, dict[Path, tuple[store.Stamp, str]]] = {}
        """By execution: each file sent, with the version sent and its session key."""
        self.folders: dict[str, Path] = {}
        """By execution: its folder of checkpoints (`store.execution_dir`), named once."""

    async def flush(self, execution_id: str, attempt: int, send: Send) -> int:
        """Send the execution's checkpoints that are new, changed or gone; how many went."""
        folder = self.folders.get(execution_id)
        if folder is None:
            folder = self.folders[execution_id] = store.execution_dir(execution_id)
        now = store.stamps(execution_id, folder)
        known = self.sent.setdefault(execution_id, {})
        count = 0
        for path, stamp in now.items():
            previous = known.get(path)
            if previous is not None and previous[0] == stamp:
                continue
            data = await asyncio.to_thread(store.read_checkpoint, path)
            key = data.get("key") if data is not None else None
            if data is None or not isinstance(key, str):
                continue  # being replaced, or not one of ours
            known[path] = (stamp, key)
            if stamp.size > store.MAX_SEND_BYTES:
                log.warning(
                    "the state of session %s of execution %s is %d bytes (over %d): kept on this agent only; "
                    "a resume on another agent cannot restore it",
                    key,
                    execution_id,
                    stamp.size,
                    store.MAX_SEND_BYTES,
                )
                continue
            await send(SessionCheckpoint(execution_id=execution_id, attempt=attempt, session=key, state=data))
            count += 1
        for path in [p for p in known if p not in now]:
            _, key = known.pop(path)
            await send(SessionCheckpoint(execution_id=execution_id, attempt=attempt, session=key, state=None))
            count += 1
        return count

    def forget(self, execution_id: str) -> None:
        """The execution left this agent."""
        self.sent.pop(execution_id, None)
        self.folders.pop(execution_id, None)
