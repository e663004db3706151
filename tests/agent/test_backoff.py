"""The reconnect delays, replayed from recorded seeds: capped under the lease, jittered, and
started again after a connection that stayed up for a while, however it ended."""

from __future__ import annotations

import random

import pytest

from agent.runtime._backoff import Backoff

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
    backoff.connected(0.1, clean=True)  # a clean close (an orchestrator restart) starts it again too
    assert backoff.next_delay() <= 0.2


def test_a_seed_replays_the_same_delays() -> None:
    def run(seed: int) -> list[float]:
        backoff = Backoff(rng=random.Random(seed))
        return [backoff.next_delay() for _ in range(10)]

    assert run(5) == run(5)
    assert run(5) != run(6)
