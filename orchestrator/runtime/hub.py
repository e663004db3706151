"""The agent hub: who is connected to this orchestrator process, what each one runs, and the
live event stream of executions.

The hub holds no database state and does no I/O of its own: the WebSocket route registers a
`AgentLink` per connection (with the coroutine that writes to that socket), the dispatcher asks
which links have free slots, the lease reaper asks how long an agent has been gone. Status:

    online        connected, heartbeating, with a free slot
    busy          connected, every slot taken
    unresponsive  connected, but `missed_heartbeats` beats late
    offline       not connected to this process
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

Send = Callable[[Any], Coroutine[Any, Any, None]]
Close = Callable[[int, str], Coroutine[Any, Any, None]]


@dataclass(eq=False)
class AgentLink:
    """One live connection of one agent."""

    agent_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    send: Send
    close: Close
    capabilities: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    steps: frozenset[str] = frozenset()
    max_jobs: int = 1
    version: str = ""
    running: dict[uuid.UUID, int] = field(default_factory=dict)
    """Execution id → attempt, for every execution this connection holds."""
    unconfirmed: dict[uuid.UUID, tuple[float, int]] = field(default_factory=dict)
    """Executions sent in a `job.assign` that the agent has not yet said it holds (by `job.accepted`,
    `job.rejected`, a journal batch or a heartbeat listing it), with the monotonic time they were
    given and `beats` then: a frame lost on the way leaves one here, and the lease reaper requeues
    it after `assign_timeout_s` once two heartbeats came that did not list it."""
    beats: int = 0
    """Heartbeats received on this connection."""
    connected_at: float = field(default_factory=time.monotonic)
    last_beat: float = field(default_factory=time.monotonic)
    dispatched: int = 0
    connection: Any = None
    """The connection's protocol state (`shared.protocol.ServerConnection`), told of each assignment."""
    unhealthy: str | None = None
    """Why the agent said (in its last heartbeat) that it cannot take jobs now; it gets none meanwhile."""

    def hold(self, execution_id: uuid.UUID, attempt: int, *, confirmed: bool = True) -> None:
        """Take the execution on this connection: a slot, and the right to report on it.

        Args:
            execution_id: the execution.
            attempt: the attempt the connection holds.
            confirmed: False for a job about to be sent, which the agent has yet to confirm.
        """
        self.running[execution_id] = attempt
        if not confirmed:
            self.unconfirmed[execution_id] = (time.monotonic(), self.beats)
        if self.connection is not None:
            self.connection.assign(str(execution_id), attempt)

    def confirm(self, execution_id: uuid.UUID) -> None:
        """The agent said it holds the execution: its `job.assign` arrived."""
        self.unconfirmed.pop(execution_id, None)

    def drop(self, execution_id: uuid.UUID) -> None:
        """Forget the execution on this connection (its slot and its report rights)."""
        self.running.pop(execution_id, None)
        self.unconfirmed.pop(execution_id, None)
        if self.connection is not None and str(execution_id) in self.connection.assigned:
            self.connection.release(str(execution_id))

    @property
    def free(self) -> int:
        return 0 if self.unhealthy is not None else self.max_jobs - len(self.running)


class AgentHub:
    """Connections of this process, by agent id."""

    def __init__(self, *, heartbeat_interval_s: float = 10.0, missed_heartbeats: int = 3) -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.missed_heartbeats = missed_heartbeats
        self.started_at = time.monotonic()
        self.links: dict[uuid.UUID, AgentLink] = {}
        self._gone_since: dict[uuid.UUID, float] = {}
        self._shaking: dict[uuid.UUID, float] = {}
        self._watchers: dict[uuid.UUID, set[asyncio.Queue[Any]]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.on_free: Callable[..., None] = lambda work=False: None
        """Called when capacity may have appeared (a new link, a finished job), or with
        `work=True` when executions were requeued: the dispatcher's kick."""
        self.on_presence: Callable[[AgentLink, bool], None] = lambda link, online: None
        """Called when an agent's link is registered (True) or forgotten (False): the trigger
        bus's `agent.online` / `agent.offline` (it only queues the news)."""

    # --- connections ----------------------------------------------------------------------------

    def register(self, link: AgentLink) -> AgentLink | None:
        """Add `link`; returns the agent's previous link, which the caller closes (replaced)."""
        previous = self.links.get(link.agent_id)
        self.links[link.agent_id] = link
        self._gone_since.pop(link.agent_id, None)
        self._shaking.pop(link.agent_id, None)
        self.on_free()
        self.on_presence(link, True)
        return previous

    def connecting(self, agent_id: uuid.UUID) -> None:
        """The agent is shaking hands: until it is registered, its grace counts from now, so the
        lease reaper does not requeue what the handshake keeps or gives back to it."""
        now = time.monotonic()
        self._shaking[agent_id] = now
        if agent_id not in self.links:
            self._gone_since[agent_id] = now

    def shaking_hands(self, agent_id: uuid.UUID | None, within_s: float = 30.0) -> bool:
        """Whether the agent began a handshake in the last `within_s` seconds that has not ended in
        `register`: what it holds is being reconciled, so nothing it holds is judged meanwhile."""
        since = self._shaking.get(agent_id) if agent_id is not None else None
        return since is not None and time.monotonic() - since < within_s

    def unregister(self, link: AgentLink, *, gone_since: float | None = None) -> None:
        """Forget `link` if it is still the agent's current one; the agent counts as gone from
        `gone_since` (monotonic; default now)."""
        if self.links.get(link.agent_id) is link:
            del self.links[link.agent_id]
            self._gone_since[link.agent_id] = gone_since if gone_since is not None else time.monotonic()
            self.on_presence(link, False)

    def link_of(self, agent_id: uuid.UUID | None) -> AgentLink | None:
        return self.links.get(agent_id) if agent_id is not None else None

    def beat(self, link: AgentLink) -> None:
        now = time.monotonic()
        back = self.late(link, now) > 0
        link.last_beat = now
        link.beats += 1
        if back and link.free > 0:
            self.on_free()  # its free slots count again: what waited for an agent may go to it now

    def late(self, link: AgentLink, now: float | None = None) -> float:
        """Seconds past the point where the agent counts as unresponsive (≤ 0 while on time)."""
        limit = self.heartbeat_interval_s * self.missed_heartbeats
        return ((now or time.monotonic()) - link.last_beat) - limit

    def gone_for(self, agent_id: uuid.UUID | None, now: float | None = None) -> float:
        """Seconds the agent has not been connected here (0 while it is). An agent never seen by
        this process counts from the process's start, so recovery after a restart waits one grace."""
        if agent_id is not None and agent_id in self.links:
            return 0.0
        since = self._gone_since.get(agent_id, self.started_at) if agent_id is not None else self.started_at
        return (now or time.monotonic()) - since

    def status_of(self, agent_id: uuid.UUID) -> str | None:
        """online / busy / unresponsive while connected; None when not connected here."""
        link = self.links.get(agent_id)
        if link is None:
            return None
        if self.late(link) > 0:
            return "unresponsive"
        return "busy" if link.free <= 0 else "online"

    def running_of(self, agent_id: uuid.UUID) -> list[uuid.UUID]:
        link = self.links.get(agent_id)
        return sorted(link.running, key=str) if link else []

    def available(self) -> list[AgentLink]:
        """Links with a free slot that are heartbeating."""
        return list(self._available())

    def has_available(self) -> bool:
        """Whether `available()` holds any link (stops at the first)."""
        return any(True for _ in self._available())

    def _available(self) -> Iterator[AgentLink]:
        now = time.monotonic()
        return (link for link in self.links.values() if link.free > 0 and self.late(link, now) <= 0)

    def holder_of(self, execution_id: uuid.UUID) -> AgentLink | None:
        for link in self.links.values():
            if execution_id in link.running:
                return link
        return None

    async def disconnect(
        self, agent_id: uuid.UUID, reason: str = "revoked", code: int = 4403, *, gone_since: float | None = None
    ) -> bool:
        """Close the agent's connection (e.g. its key was revoked). False when it is not connected."""
        link = self.links.get(agent_id)
        if link is None:
            return False
        self.unregister(link, gone_since=gone_since)
        # Not awaited: a close handshake with a frozen peer waits for its timeout, and the caller
        # (the lease reaper, a revocation) must not wait with it.
        closing = asyncio.get_running_loop().create_task(link.close(code, reason))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        return True

    # --- live view ------------------------------------------------------------------------------

    def watch(self, execution_id: uuid.UUID) -> asyncio.Queue[Any]:
        """A queue that receives each batch of stored events of the execution (and None at its end)."""
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)
        self._watchers.setdefault(execution_id, set()).add(queue)
        return queue

    def unwatch(self, execution_id: uuid.UUID, queue: asyncio.Queue[Any]) -> None:
        watchers = self._watchers.get(execution_id)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self._watchers[execution_id]

    def publish(self, execution_id: uuid.UUID, item: Any) -> None:
        """Hand `item` (a list of event dicts, or None for "finished") to every watcher; a watcher
        that fell 1,000 batches behind is dropped rather than slowing the agents down."""
        for queue in list(self._watchers.get(execution_id, ())):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self.unwatch(execution_id, queue)
