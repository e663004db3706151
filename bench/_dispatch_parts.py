"""The dispatch benchmark's parts: constants, the store of fresh orchestrators, the server
sampler, and the simulated agents (asyncio WebSocket clients speaking the real protocol).
Used by `bench/dispatch.py`; not run on its own."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _dispatch_load import JobFrames, server_frame  # noqa: E402  (bench/ is on sys.path when this runs)

import shared.protocol as wire  # noqa: E402
from cli.supervise import RPA, LocalOrchestrator  # noqa: E402
from shared.states import ExecutionStatus  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results" / "dispatch.json"
EMAIL, PASSWORD, ORG, API = "bench@example.com", "Correct-Horse-42-battery", "Bench", "/api/v1"
CONNECT_CONCURRENCY, THROUGHPUT_AGENTS, WARMUP, UNLOADED = 200, 50, 20, 50
NOOP_FLOW = {"schema": "rpa.flow/1", "name": "Noop", "nodes": [{"id": "noop", "type": "core.noop"}]}
STATES = tuple(ExecutionStatus)
RESUME_ITEMS, RESUME_PAUSE_S = 12, 0.3
N8N_EPS, TARGET_EPS, TARGET_P99_MS, TEMPORAL_S = 220, 500, 50, 30


def _pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200]


# -- infrastructure --------------------------------------------------------------------------------


class Store:
    """Fresh data dirs and databases of one kind; for PostgreSQL one throwaway server for all."""

    def __init__(self, kind: str) -> None:
        self.kind, self.pg = kind, None  # type: str, Any
        self.dirs: list[Path] = []

    def __enter__(self) -> Store:
        if self.kind == "postgres":
            from tests.postgres import PostgresServer

            self.pg = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-bench-pg-")))
            try:
                self.pg.start()
            except BaseException:
                self.__exit__()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pg is not None:
            try:
                self.pg.stop()
            except Exception as error:
                print(f"  (stopping PostgreSQL: {_why(error)})")
                shutil.rmtree(self.pg.base, ignore_errors=True)
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)

    def fresh(self, label: str, **settings: str) -> tuple[LocalOrchestrator, str]:
        """An orchestrator (not started) on a new data dir and database, and the database's URL."""
        root = Path(tempfile.mkdtemp(prefix=f"rpa-bench-dispatch-{self.kind}-{label}-"))
        self.dirs.append(root)
        url = (
            self.pg.url(asyncio.run(self.pg.create_database()))
            if self.pg is not None
            else f"sqlite+aiosqlite:///{root / 'data' / 'orchestrator.db'}"
        )
        env = {
            "HOME": str(root / "home"),
            "RPA_DATABASE_URL": url,
            "RPA_RATE_LIMIT_PER_MINUTE": "100000000",
            "RPA_LOGIN_RATE_LIMIT_PER_MINUTE": "100000000",
            **settings,
        }
        return LocalOrchestrator(root / "data", env=env, log=root / "orchestrator.log"), url


def start(orch: LocalOrchestrator) -> None:
    try:
        orch.start()
    except BaseException:
        orch.stop()  # e.g. not ready in time: the process may still run
        raise


def admin_create(orch: LocalOrchestrator) -> None:
    orch.data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [RPA, "admin", "create", "--email", EMAIL, "--org", ORG, "--data-dir", str(orch.data_dir)],
        check=True,
        env=orch.env,
        capture_output=True,
        input=(PASSWORD + "\n").encode(),
        timeout=300,
    )


async def seed_agents(url: str, count: int) -> list[str]:
    """Insert `count` agents of the organisation; returns their keys."""
    from sqlalchemy import insert, select

    from orchestrator.db.base import utcnow
    from orchestrator.db.session import Database
    from orchestrator.models import Organisation
    from orchestrator.models.agents import Agent
    from orchestrator.runtime.enrolment import new_agent_key

    db, keys, now = Database(url), [], utcnow()
    try:
        async with db.transaction() as session:
            org_id = await session.scalar(select(Organisation.id).where(Organisation.slug == ORG.lower()))
        for first in range(0, count, 1000):
            rows: list[dict[str, Any]] = []
            for i in range(first, min(count, first + 1000)):
                agent_id = uuid.uuid4()
                key, key_hash = new_agent_key(agent_id)
                keys.append(key)
                rows.append(
                    {
                        "id": agent_id,
                        "org_id": org_id,
                        "name": f"sim-{i:05d}",
                        "hostname": "bench",
                        "labels": [],
                        "capabilities": [],
                        "steps": [],
                        "version": "",
                        "max_jobs": 1,
                        "key_hash": key_hash,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            async with db.transaction() as session:
                await session.execute(insert(Agent.__table__), rows)  # type: ignore[arg-type]
    finally:
        await db.dispose()
    return keys


class Sampler(threading.Thread):
    """The server's peak RSS every 0.5 s; CPU % (of one core) of the server and of this process."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.me, self._halt = psutil.Process(pid), psutil.Process(), threading.Event()
        self.idle = self.peak = self.proc.memory_info().rss
        self.start()

    def run(self) -> None:
        while not self._halt.wait(0.5):
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> dict[str, float]:
        self._halt.set()
        return {"server_rss_idle_mib": round(self.idle / 2**20, 1), "server_rss_peak_mib": round(self.peak / 2**20, 1)}

    def mark(self) -> tuple[float, float, float]:
        return time.perf_counter(), sum(self.proc.cpu_times()[:2]), sum(self.me.cpu_times()[:2])

    def cpu_since(self, mark: tuple[float, float, float]) -> dict[str, float]:
        now = self.mark()
        wall = now[0] - mark[0]
        return {
            "server_cpu_pct": round(100 * (now[1] - mark[1]) / wall, 1),
            "client_cpu_pct": round(100 * (now[2] - mark[2]) / wall, 1),
        }


def log_problems(log: Path, offset: int = 0) -> dict[str, Any]:
    """WARNING/ERROR lines and tracebacks (whole) the server wrote after `offset`: how many, the first few."""
    lines = (log.read_bytes()[offset:].decode(errors="replace") if log.exists() else "").splitlines()
    found, i = [], 0
    while i < len(lines):
        end = i + 1
        if "Traceback" in lines[i]:  # up to the next log record
            while end < len(lines) and not re.match(r"(INFO|WARNING|ERROR|DEBUG):|\d{4}-\d\d-\d\d ", lines[end]):
                end += 1
            found.append("\n".join(lines[i:end])[-3000:])
        elif "WARNING" in lines[i] or "ERROR" in lines[i]:
            found.append(lines[i][:300])
        i = end
    pauses = [
        m.groups()
        for line in lines
        if (m := re.match(r"\S+ (\S+) WARNING rpa\.orchestrator\.gc: .* held the server for (\d+) ms", line))
    ]
    storms = [line[:400] for line in lines if "reconnect storm is over" in line or "garbage collections" in line]
    return {
        "count": len(found),
        "first": found[:5],
        "gc_pauses": [(at[:12], int(ms)) for at, ms in pauses][:200],
        "storms": storms[:20],
    }


# -- simulated agents ------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.rtts: list[float] = []
        self.slowest: list[tuple[float, float]] = []
        """(wall-clock time sent, RTT) of heartbeats slower than 50 ms, to line up with the server's log."""
        self.heartbeats = 0
        self.window = (float("inf"), float("inf"))
        """perf_counter span in which heartbeats are counted and timed (they are sent all along)."""
        self.assigned: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.closed: Counter[str] = Counter()
        self.errors: list[str] = []
        self.assign_checked = False
        """An agent has parsed one job.assign whole with the protocol (and it was one)."""


class SimAgent:
    """One agent connection driven by this process, with `agent/runtime/_transport.py`'s client settings.

    The frames of a job are read and written as plain JSON (`_dispatch_load`), the first
    `job.assign` of the run excepted, which is parsed whole by the protocol; every other frame is
    parsed by the protocol."""

    def __init__(self, key: str, name: str, stats: Stats, max_jobs: int = 1) -> None:
        self.key, self.name, self.stats, self.max_jobs = key, name, stats, max_jobs
        self.ws: Any = None
        self.pending: dict[str, tuple[float, bool]] = {}
        self.acks: dict[str, asyncio.Queue[int]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def connect(self, url: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            url,
            max_size=8 * 1024 * 1024,
            open_timeout=60,
            ping_interval=None,
            close_timeout=5,
            additional_headers={"Authorization": f"Bearer {self.key}"},
        )
        await self.send(
            wire.Hello(
                protocol_version=wire.PROTOCOL_VERSION,
                name=self.name,
                version="bench",
                max_jobs=self.max_jobs,
                steps=["core.noop"],
            )
        )
        welcome = wire.decode_server_message(await asyncio.wait_for(self.ws.recv(), 60))
        if not isinstance(welcome, wire.Welcome):
            await self.ws.close()
            raise RuntimeError(f"no welcome: {welcome!r}")
        self._spawn(self._read())
        self._spawn(self._heartbeats(welcome.heartbeat_interval_s))

    async def send(self, message: Any) -> None:
        await self.ws.send(wire.encode(message))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                if self._job_frame(raw):
                    continue
                message = wire.decode_server_message(raw)
                if isinstance(message, wire.HeartbeatAck):
                    sent, measured = self.pending.pop(message.ref, (0.0, False))
                    if measured:
                        rtt = time.perf_counter() - sent
                        self.stats.rtts.append(rtt)
                        if rtt > 0.05:
                            self.stats.slowest.append((time.time() - rtt, rtt))
                elif isinstance(message, wire.JobAssign):  # the run's first, parsed whole
                    self.stats.assigned.setdefault(message.execution_id, time.perf_counter())
                    self._spawn(self._job(message.execution_id, message.attempt))
                else:
                    self.stats.errors.append(f"{self.name} got {message.type}: {getattr(message, 'message', '')}")
        except ConnectionClosed as closed:
            self.stats.closed[f"{closed.rcvd.code} {closed.rcvd.reason}" if closed.rcvd else "no close frame"] += 1
        except Exception as error:
            self.stats.errors.append(f"{self.name} reader: {_why(error)}")

    def _job_frame(self, raw: str | bytes) -> bool:
        """Handle a job's frame from its JSON alone; False for any other (parsed whole instead)."""
        frame = server_frame(raw)
        kind = frame.get("type")
        if kind == "journal.ack":
            self.acks.setdefault(frame["execution_id"], asyncio.Queue()).put_nowait(frame["seq"])
        elif kind == "job.assign" and self.stats.assign_checked:
            self.stats.assigned.setdefault(frame["execution_id"], time.perf_counter())
            self._spawn(self._job(frame["execution_id"], frame["attempt"]))
        elif kind == "job.assign":
            self.stats.assign_checked = isinstance(wire.decode_server_message(raw), wire.JobAssign)
            return False
        else:
            return False
        return True

    async def _job(self, eid: str, attempt: int) -> None:
        accepted, journal, finished, last_seq = JobFrames.make(eid, attempt)
        acks = self.acks.setdefault(eid, asyncio.Queue())
        try:
            await self.ws.send(accepted)
            await self.ws.send(journal)
            if (seq := await asyncio.wait_for(acks.get(), 60)) != last_seq:
                self.stats.errors.append(f"journal.ack of {eid} at seq {seq}, expected {last_seq}")
            await self.ws.send(finished)
            await asyncio.wait_for(acks.get(), 60)
            self.stats.done[eid] = time.perf_counter()
        except Exception as error:
            self.stats.errors.append(f"job {eid}: {_why(error)}")
        finally:
            self.acks.pop(eid, None)

    async def _heartbeats(self, interval: float) -> None:
        """From connect to close, as a real agent: a heartbeat every `interval` s (from a random phase)."""
        beat = time.perf_counter() + random.uniform(0, interval)
        while True:
            await asyncio.sleep(max(0.0, beat - time.perf_counter()))
            message, now = wire.Heartbeat(running=[], sent_at=time.time()), time.perf_counter()
            measured = self.stats.window[0] <= now < self.stats.window[1]
            self.pending[message.id] = (now, measured)
            try:
                await self.send(message)
            except Exception as error:
                self.pending.pop(message.id, None)
                if measured:
                    self.stats.errors.append(f"{self.name} heartbeat: {_why(error)}")
                return
            self.stats.heartbeats += measured
            beat += interval

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception as error:
                self.stats.errors.append(f"{self.name} close: {_why(error)}")
        for task in list(self.tasks):
            task.cancel()


async def in_batches(coroutines: list[Any], width: int) -> list[Any]:
    """Run the coroutines with at most `width` in flight; their results (an exception is a result)."""
    gate = asyncio.Semaphore(width)

    async def one(coroutine: Any) -> Any:
        async with gate:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines), return_exceptions=True)


async def connect_all(
    agents: list[SimAgent], orch: LocalOrchestrator
) -> tuple[list[SimAgent], list[float], Counter[str]]:
    """Connect every agent: (the connected ones, seconds each took, failures by reason)."""
    url = orch.url.replace("http://", "ws://") + API + "/agents/connect"

    async def timed(agent: SimAgent) -> float:
        from websockets.exceptions import InvalidStatus

        from agent.runtime._backoff import retry_after_delay

        began = time.perf_counter()
        while True:
            try:
                await agent.connect(url)
                return time.perf_counter() - began
            except InvalidStatus as refused:  # a busy server's 503: back at the turn it gave, as an agent is
                retry_after = refused.response.headers.get("Retry-After", "")
                if refused.response.status_code != 503 or not retry_after.isdigit():
                    raise
                await asyncio.sleep(retry_after_delay(float(retry_after), random.Random()))
            except RuntimeError as closed:  # a hello closed "busy" (1013): an agent comes back too
                if "code='busy'" not in str(closed):
                    raise
                await asyncio.sleep(random.uniform(0.5, 1.5))

    results = await in_batches([timed(agent) for agent in agents], CONNECT_CONCURRENCY)
    failures = Counter(_why(r) for r in results if isinstance(r, BaseException))
    return (
        [a for a, r in zip(agents, results, strict=True) if not isinstance(r, BaseException)],
        [r for r in results if not isinstance(r, BaseException)],
        failures,
    )


async def _login(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post(API + "/auth/login", json={"email": EMAIL, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
