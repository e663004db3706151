"""Admission control for agent handshakes, over a real uvicorn socket with real agent clients.

At most `agent_handshakes` do their database work at once; a connection that would wait longer than
`agent_handshake_wait_s` (or past `agent_handshake_queue`) is answered HTTP 503 with a
`Retry-After` before it is accepted (no accept, no key lookup), and the agent waits at least that
long before it tries again, then gets in. A storm (the queue full) defers full garbage collections,
and the deferral ends with it.
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from agent.runtime import AgentConfig, AgentRuntime
from orchestrator.gc_policy import DEFERRED_THRESHOLD, GcPolicy, during_storm
from orchestrator.runtime.admission import PROBE, HandshakeGate
from orchestrator.settings import Settings
from shared.steps import StepRegistry
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.test_agents import enrolled

CONNECT = "/api/v1/agents/connect"


@pytest.fixture
def database_url() -> None:
    """SQLite only: the gate is in front of the database, whichever it is."""
    return None


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"agent_handshakes": 1, "agent_handshake_queue": 1, "agent_handshake_wait_s": 0.3}
    )


@dataclass
class Served:
    """The app on a real uvicorn socket (the production WebSocket implementation), counting every
    WebSocket the app accepted."""

    url: str
    accepts: list[str] = field(default_factory=list)


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[Served]:
    accepts: list[str] = []

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        async def counted(message: Message) -> None:
            if message["type"] == "websocket.accept":
                accepts.append(scope["path"])
            await send(message)

        await app(scope, receive, counted)

    config = uvicorn.Config(
        counting, host="127.0.0.1", port=0, lifespan="off", ws="websockets-sansio", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(f"ws://127.0.0.1:{port}", accepts)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def gc_policy() -> Iterator[GcPolicy]:
    installed = GcPolicy(full_every_s=0).install()
    try:
        yield installed
    finally:
        installed.uninstall()


async def _agent_key(app: FastAPI, tenant: TenantFactory) -> str:
    owner = await tenant()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        key: str = (await enrolled(http, owner.headers))["agent_key"]
    return key


async def _metrics(app: FastAPI) -> str:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return (await http.get("/metrics")).text


async def _try(served: Served, key: str) -> InvalidStatus | None:
    """Open the agent socket once: None if it was accepted, else the refusal."""
    try:
        async with ws_connect(served.url + CONNECT, additional_headers={"Authorization": f"Bearer {key}"}):
            return None
    except InvalidStatus as refused:
        return refused


async def _fill(gate: HandshakeGate) -> asyncio.Task[None]:
    """Take the one place and queue one waiter: the gate is full and its queue too."""
    await gate.acquire()
    waiter = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert gate.waiting == gate.queue == 1
    return waiter


async def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true in time")


async def _drain(gate: HandshakeGate, waiter: asyncio.Task[None]) -> None:
    gate.release()  # the holder goes: the waiter gets the place
    await waiter
    gate.release()


async def test_a_connection_past_the_queue_is_refused_503_without_an_accept(
    app: FastAPI, tenant: TenantFactory, served: Served, gc_policy: GcPolicy
) -> None:
    key = await _agent_key(app, tenant)
    gate: HandshakeGate = app.state.agent_handshake_gate
    assert await _try(served, key) is None  # control: room at the gate, accepted
    assert served.accepts == [CONNECT]

    waiter = await _fill(gate)
    looked_up = gate.admitted
    refused = await _try(served, key)
    assert refused is not None
    assert refused.response.status_code == 503
    retry_after = refused.response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    assert served.accepts == [CONNECT]  # never accepted
    assert gate.admitted == looked_up  # nor its key looked up: refused before anything was done
    assert gate.refused == 1
    assert gc.get_threshold()[2] == DEFERRED_THRESHOLD  # a storm: full collections deferred
    metrics = await _metrics(app)
    assert "rpa_agent_handshakes_refused_total 1.0" in metrics
    assert "rpa_agent_handshakes_waiting 1.0" in metrics

    await _drain(gate, waiter)
    assert await _try(served, key) is None  # room again: in
    assert served.accepts == [CONNECT, CONNECT]


async def test_a_queued_handshake_that_waits_in_vain_is_refused_503_not_accepted(
    app: FastAPI, tenant: TenantFactory, served: Served
) -> None:
    key = await _agent_key(app, tenant)
    gate: HandshakeGate = app.state.agent_handshake_gate
    await gate.acquire()  # the one place, held past the wait; the queue has room
    try:
        refused = await _try(served, key)
    finally:
        gate.release()
    assert refused is not None
    assert refused.response.status_code == 503
    assert int(refused.response.headers["Retry-After"]) >= 1
    assert served.accepts == []  # the old way accepted it, then closed it with 1013
    assert (gate.refused, gate.refused_late) == (0, 1)  # counted as a late refusal, not the queue's
    assert "rpa_agent_handshakes_refused_late_total 1.0" in await _metrics(app)
    assert gate.waiting == 0  # the one that gave up left no trace in the queue


async def test_a_refused_agent_waits_its_turn_then_gets_in(
    app: FastAPI, tenant: TenantFactory, served: Served, tmp_path: Path
) -> None:
    key = await _agent_key(app, tenant)
    gate: HandshakeGate = app.state.agent_handshake_gate
    waiter = await _fill(gate)
    config = AgentConfig(
        url=served.url.replace("ws://", "http://"), key=key, name="host-1", home=tmp_path / "agent", backoff_seed=7
    )
    runtime = AgentRuntime(config, registry=StepRegistry())  # no steps: none are run here
    running = asyncio.create_task(runtime.run())
    try:
        await _until(lambda: gate.refused > 0 and bool(runtime.backoff.delays))  # its first attempt refused
        asked = gate.refused  # and the turn it was given is what it waits, at least
        await _drain(gate, waiter)
        await asyncio.wait_for(runtime.connected.wait(), 30)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        runtime.outbox.close()
    assert asked == 1
    assert gate.refused == 1
    assert runtime.backoff.delays[0] >= 1.0  # Retry-After is at least 1 s; the exponential starts at 0.2 s
    assert served.accepts == [CONNECT]


def test_turns_are_handed_out_one_after_another_at_the_measured_rate() -> None:
    now = [100.0]
    gate = HandshakeGate(2, queue=0, retry_max_s=30, clock=lambda: now[0])
    gate.hold_s = 0.5  # as measured: a place held half a second, so one handshake per 0.5 s
    assert gate.rate == 2.0
    turns = [gate.refusal() for _ in range(8)]
    assert turns == [1, 1, 2, 2, 3, 3, 4, 4]  # spread out at the rate, not all at once
    now[0] += 10  # the turns handed out fell due: the next one is near again
    assert gate.refusal() == 1
    many = [gate.refusal() for _ in range(200)]
    assert max(many) <= 30  # never beyond retry_max_s


def test_turns_past_the_cap_are_spread_over_its_second_half_not_bunched() -> None:
    now = [0.0]
    gate = HandshakeGate(2, queue=0, retry_max_s=60, clock=lambda: now[0], rng=random.Random(5))
    gate.hold_s = 0.5  # one handshake per 0.5 s: 120 turns fit under the cap
    turns = [gate.refusal() for _ in range(2000)]
    under, past = turns[:119], turns[121:]
    assert under == sorted(under)
    assert max(under) <= 60
    assert min(past) >= 30
    assert max(past) <= 60
    seconds = Counter(past)
    assert max(seconds.values()) < len(past) * 0.1  # capped, all 1,879 were given the same 60 s
    assert len(seconds) >= 29


async def test_a_connection_is_queued_while_its_expected_wait_is_short() -> None:
    # Waiting costs a connection nothing but memory, a refusal a second connection: the queue is
    # bounded by the wait it means at the measured rate, not by a length.
    gate = HandshakeGate(2, max_wait_s=1.0)
    gate.hold_s = 0.1  # 20 places a second: 10 handshakes (each takes a place twice)
    await gate.acquire()
    await gate.acquire()
    waiters = [asyncio.ensure_future(gate.acquire()) for _ in range(18)]
    await asyncio.sleep(0)
    assert gate.refusal() is None  # 18 ahead and its own 2 places: 1.0 s
    waiters.append(asyncio.ensure_future(gate.acquire()))
    await asyncio.sleep(0)
    assert gate.refusal() == 2  # 1.05 s: refused, its turn after the queue (0.95 s) and its own
    gate.hold_s = 0.01  # the database got faster: the same queue is a short wait
    assert gate.refusal() is None
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert gate.waiting == 0


async def test_in_a_storm_turns_follow_the_handshakes_measured_to_complete() -> None:
    # The hold time said 400 handshakes a second; the server completed 10 a second. Turns spaced
    # by the first brought agents back 40 times faster than they could be served.
    now = [0.0]
    gate = HandshakeGate(16, queue=0, retry_max_s=300, clock=lambda: now[0])
    gate.hold_s = 0.02
    assert gate.rate == 400.0
    assert gate.refusal() == 1  # a storm begins
    for _ in range(50):  # 10 a second over 5 s
        now[0] += 0.1
        gate.completed()
    assert gate.rate == pytest.approx(10 * PROBE, rel=0.03)
    turns = [gate.refusal() for _ in range(125)]
    assert max(turns) == 10  # 125 turns at 12.5 a second: 10 s, not 0.3 s
    assert turns.count(1) < 20


def test_the_hold_time_is_measured() -> None:
    gate = HandshakeGate(4)
    for _ in range(200):
        gate.observe(0.1)
    assert 0.09 < gate.hold_s < 0.11
    assert gate.refusal() is None  # no queue bound: never refused


async def test_a_storm_ends_after_the_calm_and_gives_the_collections_back(gc_policy: GcPolicy) -> None:
    now = [0.0]
    storms: list[bool] = []
    gate = HandshakeGate(1, queue=1, clock=lambda: now[0])
    young, middle, full = gc.get_threshold()

    def on_storm(active: bool) -> None:  # what the app does: tell the installed policy
        storms.append(active)
        during_storm(active)

    gate.on_storm = on_storm
    await gate.acquire()
    waiter = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert storms == [True]
    assert gc.get_threshold() == (young, middle, DEFERRED_THRESHOLD)
    turn = gate.refusal()
    assert turn is not None
    gate.release()
    await waiter
    gate.release()
    assert gate.check() is True  # nobody waits, but the turn handed out is not due yet
    now[0] += turn + 5.1
    assert gate.check() is False
    assert storms == [True, False]
    assert gc.get_threshold() == (young, middle, full)
    assert gc_policy.storms == 1
    assert gc_policy.deferred_since is None


async def test_a_storm_that_does_not_end_gets_its_collections_back() -> None:
    policy = GcPolicy(full_every_s=0, storm_max_s=0.05).install()
    try:
        full = gc.get_threshold()[2]
        policy.storm(True)
        assert gc.get_threshold()[2] == DEFERRED_THRESHOLD
        for _ in range(500):  # the bound's timer thread lifts it
            if policy.deferred_since is None:
                break
            await asyncio.sleep(0.01)
        assert gc.get_threshold()[2] == full
    finally:
        policy.uninstall()


async def test_the_second_part_of_a_handshake_goes_before_new_handshakes() -> None:
    # In a storm, new connections queued ahead of the reconciliations of handshakes already under
    # way (one first-come queue): those timed out as well, and their key lookup was spent for nothing.
    gate = HandshakeGate(1)
    await gate.acquire()  # a handshake at work
    served: list[str] = []

    async def handshake(name: str, *, ahead: bool) -> None:
        await gate.acquire(ahead=ahead)
        served.append(name)
        await asyncio.sleep(0)
        gate.release()

    waiters = [
        asyncio.ensure_future(handshake("new 1", ahead=False)),
        asyncio.ensure_future(handshake("new 2", ahead=False)),
    ]
    await asyncio.sleep(0)
    waiters.append(asyncio.ensure_future(handshake("hello of one under way", ahead=True)))
    await asyncio.sleep(0)
    assert served == []
    assert gate.waiting == 3
    gate.release()
    await asyncio.gather(*waiters)
    assert served == ["hello of one under way", "new 1", "new 2"]


async def test_a_handshake_that_gives_up_waiting_takes_no_place_with_it() -> None:
    gate = HandshakeGate(1)
    await gate.acquire()
    with pytest.raises(TimeoutError):  # not admitted in time: its agent is refused
        await asyncio.wait_for(gate.acquire(), 0.01)
    assert gate.waiting == 0
    later = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # skips the one that gave up
    await asyncio.wait_for(later, 1)
    gate.release()
    await asyncio.wait_for(gate.acquire(), 1)  # the place is free again, not lost nor doubled
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gate.acquire(ahead=True), 0.01)
