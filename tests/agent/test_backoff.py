"""The reconnect delays, replayed from recorded seeds: capped under the lease, jittered, and
started again after a connection that stayed up for a while, however it ended."""

from __future__ import annotations

import random

import pytest

from agent.runtime._backoff import RETRY_AFTER_JITTER, RETRY_AFTER_MAX_S, Backoff
from agent.runtime._transport import _refused

SEEDS = [7, 1912, 424242]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_delay_never_exceeds_half_the_lease_nor_the_maximum(seed: int) -> None:
    backoff = Backoff(min_s=0.2, max_s=30.0, healthy_s=5.0, rng=random.Random(seed))
    backoff.lease_s = 10.0  # the orchestrator's default grace
    delays = [backoff.next_delay() for _ in range(40)]
    assert max(delays) <= 5.0, f"seed {seed}"
    assert delays[-1] >= 2.5, f"seed {seed}"  # it did grow to the cap: half to all of it
    backoff.lease_s = None
    assert backoff.cap_s == 30.0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_connection_healthy_for_a_while_starts_the_sequence_again_however_it_ended(seed: int) -> None:
    backoff = Backoff(min_s=0.2, max_s=5.0, healthy_s=5.0, rng=random.Random(seed))
    for _ in range(6):
        backoff.next_delay()
    assert backoff.delays[-1] > 0.2
    backoff.connected(6.0)  # up for 6 s, then cut (not a clean close)
    assert backoff.next_delay() <= 0.2
    for _ in range(6):
        backoff.next_delay()
    backoff.connected(1.0)  # a short connection: the sequence goes on
    assert backoff.next_delay() >= 2.5
    backoff.connected(0.1, clean=True)  # a clean close (an orchestrator restart) starts it again too,
    assert backoff.next_delay() <= backoff.spread_s  # its first attempt spread (the next test)
    assert backoff.next_delay() <= 0.4  # then the second step of the sequence


def test_a_seed_replays_the_same_delays() -> None:
    def run(seed: int) -> list[float]:
        backoff = Backoff(rng=random.Random(seed))
        return [backoff.next_delay() for _ in range(10)]

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_busy_orchestrators_retry_after_is_kept_whatever_the_cap(seed: int) -> None:
    # A storm: the orchestrator answers 503 with the turn it gives this agent; coming back sooner
    # (the lease's cap, 5 s here) would only be refused again.
    backoff = Backoff(min_s=0.2, max_s=5.0, healthy_s=5.0, rng=random.Random(seed))
    backoff.lease_s = 10.0
    first = backoff.next_delay()
    waits = [backoff.next_delay(retry_after_s=12.0) for _ in range(50)]
    assert min(waits) >= 12.0, f"seed {seed}"
    assert max(waits) <= 12.0 + 1 + 12.0 * RETRY_AFTER_JITTER, f"seed {seed}"
    assert len({round(w, 3) for w in waits}) > 40  # jittered: refused together, not back together
    # The exponential sequence did not move on: the next plain delay is the second step's.
    assert 0.2 <= backoff.next_delay() <= 0.4
    assert first <= 0.2
    assert backoff.next_delay(retry_after_s=1e9) <= RETRY_AFTER_MAX_S * (1 + RETRY_AFTER_JITTER) + 1


def test_a_refused_upgrade_carries_the_retry_after_of_a_503_only() -> None:
    assert _refused(503, "7").retry_after_s == 7.0
    assert _refused(503, "7").reason == "HTTP 503"
    assert _refused(503, "Wed, 21 Oct 2026 07:28:00 GMT").retry_after_s is None  # a date: not ours
    assert _refused(503, None).retry_after_s is None
    assert _refused(403, "7").retry_after_s is None


def test_after_a_clean_close_a_fleets_first_attempts_are_spread_not_bunched() -> None:
    # An orchestrator restart closes every agent's connection at once: with the sequence's first
    # step (0.1-0.2 s) 10,000 agents knocked within the same tenth of a second.
    fleet = [Backoff(rng=random.Random(seed)) for seed in range(2000)]
    for backoff in fleet:
        backoff.lease_s = 10.0
        backoff.connected(3600.0, clean=True)
    firsts = [backoff.next_delay() for backoff in fleet]
    assert max(firsts) <= fleet[0].spread_s == 3.0
    buckets = [0] * 30  # tenths of a second over the spread
    for delay in firsts:
        buckets[min(int(delay * 10), 29)] += 1
    assert max(buckets) < len(firsts) * 0.06  # about 1/30 each; bunched, one tenth would hold them all
    assert sum(delay > 1.5 for delay in firsts) > len(firsts) * 0.4


def test_a_cut_keeps_the_short_first_step_and_the_spread_stays_under_the_lease() -> None:
    backoff = Backoff(rng=random.Random(3), spread_s=30.0)
    backoff.connected(3600.0)  # a cut: the agent cannot tell its own network's blip from a restart
    assert backoff.next_delay() <= 0.2
    backoff.lease_s = 4.0
    delays = []
    for _ in range(200):
        backoff.connected(3600.0, clean=True)
        delays.append(backoff.next_delay())
    assert max(delays) <= 2.0  # half the lease, whatever spread_s says
    assert min(delays) < 0.2 < 1.5 < max(delays)
