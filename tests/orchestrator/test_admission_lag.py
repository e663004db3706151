"""The handshake gate's places follow the event loop's lag during a storm (`HandshakeGate.lagged`):
halved when a sample passes the bound, at most once per `SHRINK_EVERY_S`, grown back one at a time
while the loop is quick and connections wait, all of them again once the storm is over; a cut
never lets more hold a place than the gate has."""

from __future__ import annotations

import asyncio
import time

from orchestrator.runtime.admission import SHRINK_EVERY_S, HandshakeGate, watch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _holders(gate: HandshakeGate, count: int) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(gate.acquire()) for _ in range(count)]
    await asyncio.sleep(0)
    return tasks


async def test_a_lagging_loop_halves_the_places_once_per_interval_and_quick_samples_add_them_back() -> None:
    clock = Clock()
    gate = HandshakeGate(16, clock=clock, lag_s=0.05)
    tasks = await _holders(gate, 40)  # 16 hold, 24 wait: a storm
    assert gate.waiting == 24
    assert gate.storming()
    gate.check()

    gate.lagged(0.2)
    assert gate.places == 8
    gate.lagged(0.2)  # the same interval: the effect of the first cut is not seen yet
    assert gate.places == 8
    clock.now += SHRINK_EVERY_S
    gate.lagged(0.2)
    assert gate.places == 4

    # 16 still hold a place: releasing 12 of them serves nobody, the 13th hands its place on.
    for _ in range(12):
        gate.release()
    assert gate.waiting == 24
    gate.release()
    await asyncio.sleep(0)
    assert gate.waiting == 23

    gate.lagged(0.03)  # between a quarter of the bound and the bound: unchanged
    assert gate.places == 4
    gate.lagged(0.001)
    assert gate.places == 5
    await asyncio.sleep(0)
    assert gate.waiting == 22  # the new place went to a waiter at once
    assert gate.worst_lag_s == 0.2
    for task in tasks:
        task.cancel()


async def test_the_places_come_back_when_the_storm_is_over_and_a_zero_bound_never_cuts() -> None:
    clock = Clock()
    gate = HandshakeGate(8, clock=clock, lag_s=0.05)
    tasks = await _holders(gate, 16)  # as many wait as there are places: a storm
    gate.check()
    gate.lagged(1.0)
    assert gate.places == 4
    for task in tasks:
        task.cancel()
    await asyncio.sleep(0)
    for _ in range(4):  # 8 held a place with 4 places left: the first 4 releases are kept
        gate.release()
    assert gate.places == 4
    for _ in range(4):
        gate.release()
    clock.now += 60
    assert not gate.check()
    gate.lagged(1.0)  # not a storm: lag is no reason to cut, and the gate has all its places again
    assert gate.places == 8
    assert len(await _holders(gate, 8)) == 8
    assert gate.waiting == 0

    fixed = HandshakeGate(8, clock=clock, lag_s=0)
    held = await _holders(fixed, 16)
    fixed.check()
    fixed.lagged(5.0)
    assert fixed.places == 8
    for task in held:
        task.cancel()


async def test_watch_measures_a_blocked_loop() -> None:
    gate = HandshakeGate(4, lag_s=0.05)
    watcher = asyncio.create_task(watch(gate, sample_s=0.01))
    await asyncio.sleep(0.02)
    time.sleep(0.15)  # noqa: ASYNC251 (the loop is held on purpose: the sample in flight wakes late)
    await asyncio.sleep(0.05)
    watcher.cancel()
    assert gate.worst_lag_s >= 0.1
