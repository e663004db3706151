"""Faults with real processes and real sockets: a killed orchestrator (SQLite and PostgreSQL),
connections cut by a TCP proxy, a frozen agent that comes back after its execution moved, and
hostile frames on the agent socket.

The checks are always the same: the execution ends as an uninterrupted run does, its stored
journal is gapless, and no completed node instance ran twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.states import TERMINAL_STATES
from tests.e2e._cluster import API, Agent, Orchestrator, completed_twice, free_port, gapless, invocations, wait_for
from tests.e2e.test_dispatch_e2e import batch_flow
from tests.postgres import PostgresServer

pytestmark = pytest.mark.slow


class CuttingProxy:
    """A TCP proxy on loopback whose `cut()` drops every connection through it at once; while
    `refusing` is set, a new connection is closed as soon as it is made (a network that is down)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self.refusing = False
        self._ready = threading.Event()
        self.cuts = 0
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        self._ready.wait(10)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(server.wait_closed())
            self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            for end in (sink, writer if sink is up_writer else up_writer):
                with contextlib.suppress(Exception):
                    end.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        def close_all() -> None:
            for writer in list(self._writers):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
            self._writers.clear()

        self.loop.call_soon_threadsafe(close_all)
        self.cuts += 1

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[Orchestrator, list[Agent]]]:
    server = Orchestrator(tmp_path)
    agents: list[Agent] = []
    try:
        server.start()
        server.setup_owner()
        yield server, agents
    finally:
        for agent in agents:
            agent.stop()
        server.stop()


@contextlib.contextmanager
def _behind_proxy(tmp_path: Path, name: str, *, grace_s: float) -> Iterator[tuple[Orchestrator, CuttingProxy, Agent]]:
    """An orchestrator, and one agent online that reaches it only through a `CuttingProxy`."""
    server = Orchestrator(tmp_path, grace_s=grace_s)
    agent: Agent | None = None
    proxy: CuttingProxy | None = None
    try:
        server.start()
        server.setup_owner()
        proxy = CuttingProxy(server.port)
        agent = Agent(tmp_path, server, name, url=f"http://127.0.0.1:{proxy.port}")
        agent.start()
        agent.wait_online()
        yield server, proxy, agent
    finally:
        if proxy is not None:
            proxy.close()
        if agent is not None:
            agent.stop()
        server.stop()


def _reference(server: Orchestrator, **inputs: Any) -> dict[str, Any]:
    execution = server.start_execution(server.publish(batch_flow("Reference", pause_s=0.01)), inputs=inputs)
    outputs: dict[str, Any] = server.wait_state(execution, {"succeeded"})["outputs"]
    return outputs


def _check(server: Orchestrator, execution: str, expected: dict[str, Any], *, reruns: int) -> dict[str, Any]:
    """The run ended as an uninterrupted one does; its journal is whole; each iteration's step
    really ran once (by idempotency key), but for at most `reruns` interrupted ones."""
    done = server.wait_state(execution, TERMINAL_STATES, timeout=90)
    assert done["state"] == "succeeded", done
    assert done["outputs"] == expected
    events = server.events(execution)
    assert gapless(events), [e["seq"] for e in events]
    assert completed_twice(events) == []
    ran = {key: n for key, n in invocations(server.root).items() if key.startswith(execution)}
    assert sorted(ran) == sorted(f"{execution}/batch[{i}]/work" for i in range(expected["processed"]))
    per_agent = {key: n for key, n in invocations(server.root, by_agent=True).items() if key.startswith(execution)}
    assert set(per_agent.values()) == {1}, per_agent  # no agent ever ran a node instance twice
    if reruns == 0:
        assert set(ran.values()) == {1}, ran  # nobody lost its lease: every step ran exactly once
    return done


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_orchestrator_killed_mid_run_and_restarted(tmp_path: Path, database: str) -> None:
    postgres = None
    url = None
    if database == "postgres":
        # Not under pytest's temp tree: as root, the cluster belongs to `postgres`, who cannot enter it.
        postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-test-pg-")))
        postgres.start()
        url = postgres.url(asyncio.run(postgres.create_database()))
    server = Orchestrator(tmp_path, database_url=url, grace_s=15.0)  # the agent always reconnects in time
    agent: Agent | None = None
    try:
        server.start()
        server.setup_owner()
        agent = Agent(tmp_path, server, "steady")
        agent.start()
        agent.wait_online()
        expected = _reference(server, items=8)
        execution = server.start_execution(server.publish(batch_flow(pause_s=0.3, probe=True)), inputs={"items": 8})
        wait_for(
            lambda: sum(e["type"] == "iteration.finished" for e in server.events(execution)) >= 2, 30, "two iterations"
        )
        server.kill()
        time.sleep(1.0)  # the agent goes on alone, journaling into its outbox
        server.start()
        server.login()
        done = _check(server, execution, expected, reruns=0)
        assert done["attempt"] == 1  # the agent reconnected within the grace and kept its execution
    finally:
        if agent is not None:
            agent.stop()
        server.stop()
        if postgres is not None:
            postgres.stop()


def test_connections_cut_again_and_again_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    # A grace far longer than a reconnect: the lease never moves, so nothing may run twice (with the
    # suite's 1 s grace a reconnect slowed by a loaded machine would requeue the run, legitimately).
    with _behind_proxy(tmp_path, "flaky", grace_s=30.0) as (server, proxy, _agent):
        expected = _reference(server, items=12)
        execution = server.start_execution(server.publish(batch_flow(pause_s=0.25, probe=True)), inputs={"items": 12})
        server.wait_state(execution, {"running"})
        for _ in range(4):
            time.sleep(0.6)
            proxy.cut()
        _check(server, execution, expected, reruns=0)  # the agent never stopped: nothing ran again
        assert proxy.cuts == 4
        assert server.execution(execution)["attempt"] == 1  # the lease never moved


# "finished-while-away": the last step starts right after the cut, before the agent's fence closes
# (0.9 s with this grace); a longer run away would wait at the fence, as test_agent_faults_e2e.py shows.
@pytest.mark.parametrize("items", [12, 2], ids=["back-mid-run", "finished-while-away"])
def test_an_agent_cut_off_past_the_grace_reclaims_its_execution_when_nobody_took_it(tmp_path: Path, items: int) -> None:
    with _behind_proxy(tmp_path, "laptop", grace_s=1.0) as (server, proxy, agent):
        expected = _reference(server, items=items)
        execution = server.start_execution(server.publish(batch_flow(pause_s=0.3, probe=True)), inputs={"items": items})
        wait_for(
            lambda: sum(e["type"] == "iteration.finished" for e in server.events(execution)) >= 1, 30, "one iteration"
        )
        proxy.refusing = True  # the laptop's network is down for longer than the grace
        proxy.cut()
        wait_for(lambda: server.execution(execution)["state"] == "queued", 20, "the execution to be requeued")
        if items == 2:  # every step ran while it was away: what comes back is a finished run, unsent
            wait_for(
                lambda: sum(k.startswith(execution) for k in invocations(server.root)) == items,
                20,
                "the agent to run every step",
            )
        assert server.execution(execution)["attempt"] == 2
        proxy.refusing = False
        # No other agent took it, so the agent goes on with the run it never stopped: nothing runs twice.
        done = _check(server, execution, expected, reruns=0)
        assert (done["agent_id"], done["attempt"]) == (agent.agent_id, 2)
        moves = [
            (t["from_state"], t["to_state"], t["reason"])
            for t in server.api("GET", f"/executions/{execution}/transitions")["items"]
        ]
        assert [(f, t) for f, t, _ in moves] == [
            (None, "queued"),
            ("queued", "assigned"),
            ("assigned", "running"),
            ("running", "lost"),
            ("lost", "queued"),
            ("queued", "running"),
            ("running", "succeeded"),
        ]
        assert "agent laptop came back before another agent took it" in moves[5][2]
        assert f"execution {execution} was requeued while this agent was away" in agent.log.read_text()


def test_a_frozen_agent_that_returns_after_its_execution_moved_is_told_to_stop(
    tmp_path: Path, started: tuple[Orchestrator, list[Agent]]
) -> None:
    server, agents = started
    frozen = Agent(tmp_path, server, "frozen")
    agents.append(frozen)
    frozen.start()
    frozen.wait_online()
    expected = _reference(server, items=6)
    execution = server.start_execution(server.publish(batch_flow(pause_s=0.3, probe=True)), inputs={"items": 6})
    wait_for(lambda: sum(e["type"] == "iteration.finished" for e in server.events(execution)) >= 1, 30, "one iteration")
    assert frozen.process is not None
    frozen.process.send_signal(signal.SIGSTOP)  # a machine that hangs: its socket stays open, no heartbeats
    try:
        wait_for(
            lambda: server.api("GET", f"/agents/{frozen.agent_id}")["status"] in ("unresponsive", "offline"),
            20,
            "the frozen agent to be noticed",
        )
        rescuer = Agent(tmp_path, server, "rescuer")
        agents.append(rescuer)
        rescuer.start()
        rescuer.wait_online()
        wait_for(lambda: server.execution(execution)["agent_id"] == rescuer.agent_id, 30, "the execution to move")
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    # SIGSTOP can freeze the agent with steps done but their success not yet stored: the
    # orchestrator never heard those ends, so the rescuer runs them again (at least once).
    done = _check(server, execution, expected, reruns=1)
    assert done["agent_id"] == rescuer.agent_id
    assert done["attempt"] == 2
    wait_for(
        lambda: f"execution {execution} moved" in frozen.log.read_text(), 30, "the returning agent to be told to stop"
    )


def test_hostile_frames_close_only_that_connection(tmp_path: Path, started: tuple[Orchestrator, list[Agent]]) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    server, agents = started
    good = Agent(tmp_path, server, "good")
    agents.append(good)
    good.start()
    good.wait_online()
    token = server.enrolment_token()
    enrolled = httpx.post(f"{server.url}{API}/agents/enroll", json={"token": token, "name": "hostile"}).json()
    key = enrolled["agent_key"]
    socket_url = server.url.replace("http://", "ws://") + f"{API}/agents/connect"
    hello = {
        "type": "hello",
        "id": "h1",
        "protocol_version": 1,
        "name": "hostile",
        "version": "1",
        "capabilities": [],
        "labels": [],
        "max_jobs": 1,
        "steps": [],
        "running": [],
    }

    def attempt(frames: list[Any], *, headers: dict[str, str] | None = None) -> tuple[int | None, str, list[Any]]:
        """Send `frames`; returns the close code, its reason, and the messages received before it
        (an `error` message races with our own sends, so the close reason is what is checked)."""
        received: list[dict[str, Any]] = []
        with connect(
            socket_url, additional_headers=headers or {"Authorization": f"Bearer {key}"}, max_size=None, open_timeout=10
        ) as ws:
            try:
                for frame in frames:
                    ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
                while True:
                    received.append(json.loads(ws.recv(timeout=10)))
            except ConnectionClosed as closed:
                return (closed.rcvd.code, closed.rcvd.reason, received) if closed.rcvd else (None, "", received)
            except TimeoutError:
                return None, "", received

    code, reason, _ = attempt([hello], headers={"Authorization": "Bearer rpa_ak_" + "0" * 32 + "_forged"})
    assert (code, reason) == (4401, "the agent key is missing, unknown or revoked")
    code, reason, _ = attempt(["{not json"])
    assert code == 4400
    assert "not valid JSON" in reason or "JSON" in reason
    code, reason, _ = attempt([{**hello, "protocol_version": 99}])
    assert code == 4426
    assert "99" in reason
    code, reason, _ = attempt([{**hello, "max_jobs": "many"}])
    assert code == 4400
    assert "max_jobs" in reason
    code, reason, _ = attempt([{"type": "heartbeat", "id": "x", "running": [], "sent_at": 1.0}])
    assert code == 4400
    assert "hello" in reason
    code, reason, _ = attempt([hello, "x" * (5 * 1024 * 1024)])
    assert code in (4413, 1009)
    someone_elses = {
        "type": "journal",
        "id": "j",
        "execution_id": "00000000-0000-0000-0000-000000000001",
        "attempt": 1,
        "events": [{"seq": 1, "type": "log", "path": "", "data": {}, "ts": 1.0}],
    }
    code, reason, replies = attempt([hello, someone_elses])
    assert replies[0]["type"] == "welcome"
    assert code == 4400
    assert "not assigned to this connection" in reason

    # Everyone else is still served.
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert server.api("GET", f"/agents/{good.agent_id}")["status"] == "online"
    execution = server.start_execution(server.publish(batch_flow("After", items=2, pause_s=0.01)))
    assert server.wait_state(execution, {"succeeded", "failed"})["state"] == "succeeded"
