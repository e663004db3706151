"""The gate agent handshakes pass for their database work (`api/routes/agent_socket.py`).

A handshake does its database work in two parts with a network wait between them: the key's
lookup before the WebSocket is accepted, then, once the agent's `hello` has arrived, its
reconciliation. With one first-come queue for both, a storm of thousands of new connections
queued ahead of the second part of the handshakes already under way: those then waited as long
as a new one, timed out (1013), and the key lookup and accept they had cost were spent for
nothing, while the agent came back to pay for them again. Here a second part goes before every
first part that waits, so a handshake once begun is finished first.
"""

from __future__ import annotations

import asyncio
from collections import deque


class HandshakeGate:
    """At most `places` holders at once; `acquire(ahead=True)` is served before the others."""

    def __init__(self, places: int) -> None:
        self._free = places
        self._ahead: deque[asyncio.Future[None]] = deque()
        self._behind: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Waiters not yet served (those that gave up are counted until the gate reaches them)."""
        return len(self._ahead) + len(self._behind)

    async def acquire(self, *, ahead: bool = False) -> None:
        """Wait for a place; `ahead`: before every waiter that did not ask to be."""
        if self._free > 0:  # a place is free only while nobody waits: `release` hands it on
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._ahead if ahead else self._behind).append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # given a place as it gave up: hand it on
                self.release()
            raise  # a cancelled waiter stays queued until reached: removing it would cost O(n)

    def release(self) -> None:
        """Give a place back: to the first waiter still waiting, ahead ones first."""
        for queue in (self._ahead, self._behind):
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)
                    return
        self._free += 1
