"""The gate agent handshakes pass for their database work (`api/routes/agent_socket.py`).

A handshake does its database work in two parts with a network wait between them: the key's
lookup before the WebSocket is accepted, then, once the agent's `hello` has arrived, its
reconciliation. With one first-come queue for both, a storm of thousands of new connections
queued ahead of the second part of the handshakes already under way: those then waited as long
as a new one, timed out (1013), and the key lookup and accept they had cost were spent for
nothing, while the agent came back to pay for them again. Here a second part goes before every
first part that waits, so a handshake once begun is finished first.

The queue is bounded, by time more than by length: waiting costs a connection nothing but memory
while a refusal costs it a second connection, but an agent gives up on an upgrade unanswered for 10
s. So a connection is queued while its expected wait (the queue ahead of it at the measured rate)
is within `max_wait_s`, and the queue's length is only a hard cap. One that cannot be queued is
refused before anything is done for it (no routing, no accept, no key lookup): an HTTP 503 whose
`Retry-After` is a turn of its own (`refusal`). The turns are handed out one after another at the
rate the gate is measured to admit handshakes, so that the refused come back spread out, about as
fast as they can be served, rather than all at once to be refused again. The rate is not
configured. The gate's own bound is its places over the time a place is held (a moving average of
what the database work took), but in a storm the event loop is the bottleneck (accepts, upgrades,
hellos, the heartbeats of those already back), not the database: at 10,000 agents the hold time
promised 1,300-3,700 handshakes a second, turns were spaced by it, and agents came back faster
than they were served, to be refused again (16,927 refusals). So while handshakes complete in a
storm, the rate is the one measured over the last `RATE_WINDOW_S` (`completed`), times `PROBE`
so that it can rise when the server keeps up, never above the gate's own bound.

While connections wait or turns are still due, the gate is `storming`; `on_storm` is told when a
storm begins (at once) and when it is over (at the next `check` after `QUIET_S` of calm), so that
the process can defer work that can wait, such as full garbage collections (`gc_policy.py`).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable

INITIAL_HOLD_S = 0.02
"""What a place is assumed to be held for before anything was measured."""

HOLD_SMOOTHING = 0.05
"""Weight of each new measurement in the moving average of the hold time."""

PLACES_PER_HANDSHAKE = 2
"""A handshake takes a place twice: for the key's lookup, then for the hello's reconciliation."""

RATE_WINDOW_S = 5.0
"""Handshakes completed within this many seconds make the measured rate."""

RATE_SAMPLES = 20
"""Completed handshakes in the window before the measured rate is believed."""

PROBE = 1.25
"""Turns are handed out this much faster than handshakes were measured to complete: if the server
keeps up, the measured rate rises with them; if not, the queue grows and refusals begin earlier."""

QUIET_S = 5.0

PASSING_S = 5.0
"""How long a connection let through at the HTTP parser counts as on its way to the queue, unless
the app's door saw it arrive before (`passed`, `arrived`)."""
"""A storm is over once nobody has waited, and no turn handed out has been due, for this long."""


class HandshakeGate:
    """At most `places` holders at once; `acquire(ahead=True)` is served before the others.

    Args:
        places: how many may hold a place at once.
        queue: how many may wait at most before `refusal` turns new ones away (None: no cap).
        max_wait_s: the longest expected wait `refusal` queues a new one for (None: no bound).
        retry_max_s: the latest turn `refusal` hands out, in seconds from now.
        clock: monotonic seconds (replaced in tests).
        rng: where the turns past `retry_max_s` are drawn from (seeded in tests).
    """

    def __init__(
        self,
        places: int,
        *,
        queue: int | None = None,
        max_wait_s: float | None = None,
        retry_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.places = places
        self.queue = queue
        self.max_wait_s = max_wait_s
        self.retry_max_s = retry_max_s
        self.hold_s = INITIAL_HOLD_S
        """Moving average of how long a place is held (`observe`)."""
        self.admitted = 0
        self.refused = 0
        self.refused_late = 0
        """Connections refused after they had waited in the queue in vain (`late_refusal`)."""
        self._clock = clock
        self._rng = rng or random.Random()
        self._free = places
        self._waiting = 0
        self._passing: deque[float] = deque()  # let through at the parser, not yet at the app's door
        self._ahead: deque[asyncio.Future[None]] = deque()
        self._behind: deque[asyncio.Future[None]] = deque()
        self._horizon = 0.0  # when the last turn handed out falls due
        self._busy_until = -math.inf
        self._storm = False
        self._completed: deque[float] = deque()
        self.on_storm: Callable[[bool], None] | None = None
        """Called with True when a storm begins (as many wait as there are places, or one is refused),
        False when `check` finds it over."""

    @property
    def waiting(self) -> int:
        """Waiters not yet served (those that gave up are not counted)."""
        return self._waiting

    @property
    def rate(self) -> float:
        """Handshakes per second the gate can be expected to admit: its own bound (places over
        the hold time), or in a storm what was measured to complete (times `PROBE`) if less."""
        bound = self.places / (self.hold_s * PLACES_PER_HANDSHAKE)
        if not self._storm:
            return bound
        now = self._clock()
        while self._completed and self._completed[0] < now - RATE_WINDOW_S:
            self._completed.popleft()
        if len(self._completed) < RATE_SAMPLES:
            return bound
        measured = len(self._completed) / max(now - self._completed[0], 1.0)
        return min(bound, measured * PROBE)

    def completed(self) -> None:
        """Count one handshake completed (its second part done) into the measured rate."""
        self._completed.append(self._clock())
        if len(self._completed) > 100_000:
            self._completed.popleft()

    def storming(self) -> bool:
        """Whether connections wait, or turns handed out are due, or were within `QUIET_S`."""
        if self._waiting:
            self._busy_until = max(self._busy_until, self._clock())
        return self._clock() < self._busy_until + QUIET_S

    def check(self) -> bool:
        """Tell `on_storm` if a storm is over; returns whether one is under way (call it every
        second or so: nothing else notices the calm)."""
        if self._storm and not self.storming():
            self._storm = False
            if self.on_storm is not None:
                self.on_storm(False)
        return self._storm

    def _busy(self, until: float, *, begins: bool = True) -> None:
        self._busy_until = max(self._busy_until, until)
        if begins and not self._storm:
            self._storm = True
            if self.on_storm is not None:
                self.on_storm(True)

    def expected_wait_s(self, position: int | None = None) -> float:
        """How long a waiter at `position` (default: the end of the queue) is expected to wait."""
        ahead = self._waiting + self._on_the_way() if position is None else position
        return ahead / (self.rate * PLACES_PER_HANDSHAKE)

    def refusal(self) -> int | None:
        """None when a new connection may queue; when the queue is full (its length at `queue`, or
        its expected wait past `max_wait_s`), the seconds it should wait before it tries again
        (its turn; at least 1, at most `retry_max_s`)."""
        ahead = self._waiting + self._on_the_way()
        full = self.queue is not None and ahead >= self.queue
        if not full and self.max_wait_s is not None:
            full = self.expected_wait_s(ahead + PLACES_PER_HANDSHAKE) > self.max_wait_s
        if not full:
            return None
        self.refused += 1
        return self.turn()

    def passed(self) -> None:
        """A connection was let through at the HTTP parser (`api/agent_door_protocol.py`): count it
        as queued until the app's door sees it (`arrived`). In a burst the parser lets hundreds
        through within one turn of the event loop, before the first of them reaches the queue;
        counted only once queued, they all passed, and the app's door then refused most of them
        after their upgrade (5,180 of 7,772 refusals at 10,000 agents)."""
        self._passing.append(self._clock())

    def arrived(self) -> None:
        """A connection reached the app's door: no longer on its way (see `passed`)."""
        if self._passing:
            self._passing.popleft()

    def _on_the_way(self) -> int:
        """Connections let through at the parser in the last `PASSING_S` not yet at the app's door
        (one that never arrives, its client gone, stops counting after that)."""
        oldest = self._clock() - PASSING_S
        while self._passing and self._passing[0] < oldest:
            self._passing.popleft()
        return len(self._passing)

    def late_refusal(self) -> int:
        """A queued connection that waited in vain is refused: count it, and hand it a turn. These
        cost what a queued upgrade costs and then a refusal; many of them mean the queue (its
        length, or the rate it was sized with) was too long."""
        self.refused_late += 1
        return self.turn()

    def turn(self) -> int:
        """Hand out the next turn: the seconds, from now, after which one more handshake can be
        admitted, the turns already handed out and the queue counted (at least 1, rounded up:
        `Retry-After` takes whole seconds).

        A turn that would fall past `retry_max_s` is drawn at random from its second half instead:
        capped to the same second, every such agent came back in the same second (at 10,000 agents
        the last thousands at once, to be refused together again, 130 s for the fleet); drawn, they
        come back spread out and, refused again, are given turns of their own then."""
        now = self._clock()
        spacing = 1 / self.rate
        horizon = max(self._horizon, now + self.expected_wait_s()) + spacing
        if horizon <= now + self.retry_max_s:
            self._horizon = due = horizon
        else:
            self._horizon = now + self.retry_max_s
            due = now + self.retry_max_s * self._rng.uniform(0.5, 1.0)
        self._busy(self._horizon)
        return max(1, math.ceil(due - now))

    def observe(self, held_s: float) -> None:
        """Count one place held for `held_s` seconds into the moving average."""
        self.hold_s += HOLD_SMOOTHING * (held_s - self.hold_s)

    async def acquire(self, *, ahead: bool = False) -> None:
        """Wait for a place; `ahead`: before every waiter that did not ask to be."""
        if self._free > 0:  # a place is free only while nobody waits: `release` hands it on
            self._free -= 1
            self.admitted += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._ahead if ahead else self._behind).append(future)
        self._waiting += 1
        self._busy(self._clock(), begins=self._waiting >= self.places)  # a few at once are no storm
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # given a place as it gave up: hand it on
                self.release()
            else:
                self._waiting -= 1
            raise  # a cancelled waiter stays in its deque until reached: removing it would cost O(n)

    def release(self) -> None:
        """Give a place back: to the first waiter still waiting, ahead ones first."""
        for queue in (self._ahead, self._behind):
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)
                    self._waiting -= 1
                    self.admitted += 1
                    return
        self._free += 1


async def watch(gate: HandshakeGate, every_s: float = 1.0) -> None:
    """`gate.check()` every `every_s` seconds, until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        gate.check()
