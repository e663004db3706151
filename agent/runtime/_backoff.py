"""How long the agent waits before it connects again.

Exponential with jitter, and bounded twice: by `max_s`, and by a share of the lease the
orchestrator announced, so that an agent back after one wait always finds its executions still
its own. A connection that stayed up for `healthy_s` starts the sequence again, however it ended
(a cut, a crash of the orchestrator, a close for missed heartbeats), not only after a clean close.

An orchestrator too busy to take the connection (a reconnect storm) answers HTTP 503 with a
`Retry-After`: its own estimate of when this agent's turn comes, the turns of the refused spread
out at the rate it admits them. That wait is kept whatever the cap (coming back sooner would only
be refused again), with up to a second and a tenth more on top (jitter), and does not move the exponential sequence on.

An orchestrator that stops in an orderly way (a restart, an upgrade) closes every agent's
connection at once, and a fleet whose first delay is the sequence's first step (0.1-0.2 s) came
back within the same tenth of a second: 10,000 connections the server had to accept, parse and
answer (admitted or 503) before it could serve anything else. After a clean close the first
attempt therefore waits a random time of up to `spread_s` instead (full jitter: the fleet comes
back evenly over those seconds); a cut or a crash keeps the short first step, since the agent
cannot tell its own network's blip from the orchestrator's end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

LEASE_SHARE = 0.5
"""The longest wait, as a share of the lease: the reconnect itself takes time too."""

RETRY_AFTER_JITTER = 0.1
"""A `Retry-After` wait is lengthened by up to 1 s (it is given in whole seconds: the agents given
the same number spread over the second that follows) plus this share of it."""

RETRY_AFTER_MAX_S = 300.0
"""The longest `Retry-After` an agent keeps (a bad value must not park it for hours)."""


def retry_after_delay(seconds: float, rng: random.Random) -> float:
    """The wait for an orchestrator's `Retry-After: seconds`: that, plus up to 1 s and a tenth more."""
    seconds = min(max(seconds, 0.0), RETRY_AFTER_MAX_S)
    return seconds + rng.uniform(0.0, 1.0 + seconds * RETRY_AFTER_JITTER)


@dataclass
class Backoff:
    """The reconnect delays of one agent.

    Args:
        min_s: the first delay.
        max_s: the longest delay, whatever the lease.
        healthy_s: a connection up this long resets the delay to `min_s`.
        rng: the source of jitter (seeded in tests, to replay a run).
    """

    min_s: float = 0.2
    max_s: float = 5.0
    healthy_s: float = 5.0
    rng: random.Random = field(default_factory=random.Random)
    spread_s: float = 3.0
    """After a clean close, the first attempt waits a random time up to this (under `cap_s`)."""
    lease_s: float | None = None
    """The lease the orchestrator announced last (None: none announced)."""
    delays: list[float] = field(default_factory=list)
    """Every delay chosen, in order (for status pages and tests)."""
    _next: float = -1.0
    _spread: bool = False

    @property
    def cap_s(self) -> float:
        """The longest delay now: `max_s`, or less under the announced lease."""
        cap = self.max_s if self.lease_s is None else min(self.max_s, self.lease_s * LEASE_SHARE)
        return max(cap, self.min_s)

    def connected(self, seconds: float, *, clean: bool = False) -> None:
        """A connection that got as far as a welcome ended after `seconds`; `clean` when the
        orchestrator closed it in an orderly way (a restart): both start the sequence again."""
        if clean or seconds >= self.healthy_s:
            self._next = -1.0
        self._spread = clean

    def next_delay(self, retry_after_s: float | None = None) -> float:
        """The wait before the next attempt: half to all of the current step ("equal jitter",
        so agents cut together do not come back together), the step doubling up to the cap; or,
        when the orchestrator asked for one (`retry_after_s`), that wait (`retry_after_delay`);
        the first after a clean close, up to `spread_s` (full jitter)."""
        if retry_after_s is not None:
            delay = retry_after_delay(retry_after_s, self.rng)
            self.delays.append(delay)
            return delay
        if self._spread:
            self._spread = False
            delay = self.rng.uniform(0.0, min(max(self.spread_s, self.min_s), self.cap_s))
            self._next = min(self.min_s * 2, self.cap_s)
            self.delays.append(delay)
            return delay
        step = self.min_s if self._next < 0 else min(self._next, self.cap_s)
        delay = min(self.rng.uniform(step / 2, step), self.cap_s)
        self._next = min(step * 2, self.cap_s)
        self.delays.append(delay)
        return delay
