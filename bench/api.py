#!/usr/bin/env python3
"""API benchmark: requests/s and p50/p99 latency of the orchestrator over real sockets.

    .venv/bin/python bench/api.py [--databases sqlite,postgres] [--rows 100000] [--clients 8]
                                  [--requests 2000] [--seconds 20] [--quick] [--out bench/results/api.json]
    .venv/bin/python bench/api.py --render bench/results/api.json --markdown

For each database the script makes a fresh data dir (and, for PostgreSQL, a throwaway server from
`tests/postgres.py`), creates an organisation and its owner with `rpa admin create`, bulk-inserts
`--rows` finished executions with one multi-row INSERT per batch, and only then starts the
orchestrator: uvicorn in a child process on 127.0.0.1 (one worker, access log off). It then drives
it with `--clients` concurrent httpx clients, each with its own keep-alive connection, through:

- login (argon2id verification: CPU-bound by design),
- get a workflow (with its draft),
- list executions: the first page, a page 50,000 rows deep by `offset`, the same page by `cursor`,
- start an execution (a write: the execution, its first transition and an audit entry).

Every scenario stops at `--requests` requests or `--seconds` seconds, whichever comes first, after a
short warm-up; every request must get its expected status (the errors column counts the others).
The benchmark process and the server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "bench" / "results" / "api.json"

EMAIL = "bench@example.com"
PASSWORD = "Correct-Horse-42-battery"
DEEP = 50_000
"""How deep the deep page starts (rows skipped)."""
PAGE = 50
WARMUP = 10
BATCH = 5_000
START_TIMEOUT_S = 60.0
FLOW = {
    "schema": "rpa.flow/1",
    "name": "Bench",
    "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
}

Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Scenario:
    name: str
    send: Request
    expect: int
    login_limited: bool = False
    """Argon2 makes login two orders of magnitude slower: it gets a tenth of the request budget."""


# -- seeding ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    # The API's rate limits protect a production server from one client; the benchmark is one client.
    return {**os.environ, "RPA_RATE_LIMIT_PER_MINUTE": "100000000", "RPA_LOGIN_RATE_LIMIT_PER_MINUTE": "100000000"}


def create_owner(data_dir: Path, url: str) -> None:
    """Migrate the database and create the organisation and its owner, as an operator would."""
    rpa = Path(sys.executable).parent / "rpa"
    subprocess.run(
        [
            str(rpa),
            "admin",
            "create",
            "--email",
            EMAIL,
            "--org",
            "Bench",
            "--data-dir",
            str(data_dir),
            "--database-url",
            url,
        ],
        check=True,
        env=_env(),
        capture_output=True,
        input=(PASSWORD + "\n").encode(),
        timeout=300,
    )


async def seed_executions(url: str, rows: int) -> float:
    """Insert `rows` finished executions of one (synthetic) workflow, newest first one second
    apart; returns the seconds it took."""
    from sqlalchemy import insert, select, text

    from orchestrator.db.session import Database
    from orchestrator.models import Organisation
    from orchestrator.models.executions import Execution

    started = time.perf_counter()
    db = Database(url)
    try:
        async with db.transaction() as session:
            org_id = await session.scalar(select(Organisation.id).where(Organisation.slug == "bench"))
        assert org_id is not None, "the organisation 'bench' is missing"
        workflow_id, version_id = uuid.uuid4(), uuid.uuid4()
        newest = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        states = ("succeeded", "succeeded", "succeeded", "failed", "cancelled")
        for first in range(0, rows, BATCH):
            batch = []
            for i in range(first, min(rows, first + BATCH)):
                created = newest - dt.timedelta(seconds=i)
                batch.append(
                    {
                        "id": uuid.uuid4(),
                        "org_id": org_id,
                        "workflow_id": workflow_id,
                        "version_id": version_id,
                        "version_number": 1,
                        "workflow_name": "Seeded workflow",
                        "state": states[i % len(states)],
                        "priority": 1,
                        "inputs": {},
                        "outputs": {},
                        "error": None,
                        "trigger": {"type": "manual", "by": {"id": None, "name": "bench"}},
                        "trigger_type": "manual",
                        "queued_at": created,
                        "started_at": created,
                        "finished_at": created + dt.timedelta(seconds=1),
                        "attempt": 1,
                        "last_seq": 0,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
            async with db.transaction() as session:
                await session.execute(insert(Execution.__table__), batch)
        if not db.is_sqlite:
            # What autovacuum would do soon after a bulk load: fresh statistics for the planner.
            async with db.engine.connect() as connection:
                await (await connection.execution_options(isolation_level="AUTOCOMMIT")).execute(
                    text("ANALYZE executions")
                )
    finally:
        await db.dispose()
    return time.perf_counter() - started


# -- the server ---------------------------------------------------------------------------------------


SERVER = """
import sys, uvicorn
from orchestrator.app import create_app
from orchestrator.settings import Settings
settings = Settings(data_dir=sys.argv[1], database_url=sys.argv[2])
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", access_log=False)
"""


class Server:
    """The orchestrator in a child process, on a free port of 127.0.0.1."""

    def __init__(self, data_dir: Path, url: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(data_dir), url, str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(),
                cwd=ROOT,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not become ready in {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


# -- load -------------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run_scenario(
    base: str, scenario: Scenario, clients: int, max_requests: int, max_seconds: float
) -> dict[str, Any]:
    """`clients` workers, each on its own connection, share a budget of requests and a deadline."""
    latencies: list[float] = []
    errors: list[str] = []
    budget = max(1, max_requests // 10) if scenario.login_limited else max_requests
    issued = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < budget and time.perf_counter() < deadline:
            issued += 1
            began = time.perf_counter()
            response = await scenario.send(client)
            latencies.append(time.perf_counter() - began)
            if response.status_code != scenario.expect:
                errors.append(f"{response.status_code} {response.text[:200]}")

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [httpx.AsyncClient(base_url=base, timeout=60, limits=limits) for _ in range(clients)]
    try:
        for client in pool:  # warm-up: open the connections, fill the server's caches
            for _ in range(2 if scenario.login_limited else WARMUP // 2):
                await scenario.send(client)
        started = time.perf_counter()
        deadline = started + max_seconds
        await asyncio.gather(*(worker(client) for client in pool))
        elapsed = time.perf_counter() - started
    finally:
        for client in pool:
            await client.aclose()
    return {
        "scenario": scenario.name,
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
    }


async def drive(base: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as setup:
        login = await setup.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = await setup.post("/api/v1/workflows", json={"name": "Bench", "document": FLOW}, headers=auth)
        created.raise_for_status()
        workflow_id = created.json()["id"]
        (await setup.post(f"/api/v1/workflows/{workflow_id}/publish", json={}, headers=auth)).raise_for_status()
        marker = await setup.get("/api/v1/executions", params={"limit": 1, "offset": DEEP - 1}, headers=auth)
        marker.raise_for_status()
        cursor = marker.json()["next_cursor"]
        assert cursor, "the executions list gave no next_cursor"

    scenarios = [
        Scenario(
            "login",
            lambda c: c.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}),
            200,
            login_limited=True,
        ),
        Scenario("get workflow", lambda c: c.get(f"/api/v1/workflows/{workflow_id}", headers=auth), 200),
        Scenario(
            "list executions, first page",
            lambda c: c.get("/api/v1/executions", params={"limit": PAGE}, headers=auth),
            200,
        ),
        Scenario(
            f"list executions, offset {DEEP:,}",
            lambda c: c.get("/api/v1/executions", params={"limit": PAGE, "offset": DEEP}, headers=auth),
            200,
        ),
        Scenario(
            f"list executions, cursor at {DEEP:,}",
            lambda c: c.get("/api/v1/executions", params={"limit": PAGE, "cursor": cursor}, headers=auth),
            200,
        ),
        Scenario(
            "start execution",
            lambda c: c.post("/api/v1/executions", json={"workflow_id": workflow_id}, headers=auth),
            201,
        ),
    ]
    results = []
    for scenario in scenarios:
        result = await run_scenario(base, scenario, args.clients, args.requests, args.seconds)
        print(
            f"  {scenario.name}: {result['rps']} req/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
            + (f", {result['errors']} errors ({result['first_error']})" if result["errors"] else ""),
            flush=True,
        )
        results.append(result)
    return results


def bench_database(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from tests.postgres import PostgresServer

    print(f"{name}:", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"rpa-bench-api-{name}-") as tmp:
        data_dir = Path(tmp) / "data"
        postgres: PostgresServer | None = None
        try:
            if name == "postgres":
                # Not under the temp dir above: as root, the cluster belongs to `postgres`.
                postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-bench-pg-")))
                postgres.start()
                url = postgres.url(asyncio.run(postgres.create_database()))
            else:
                url = f"sqlite+aiosqlite:///{data_dir / 'orchestrator.db'}"
            create_owner(data_dir, url)
            seed_s = asyncio.run(seed_executions(url, args.rows))
            print(f"  seeded {args.rows:,} executions in {seed_s:.1f} s", flush=True)
            server = Server(data_dir, url)
            try:
                server.wait_ready()
                results = asyncio.run(drive(server.base, args))
            finally:
                server.stop()
        finally:
            if postgres is not None:
                postgres.stop()
    return {"database": name, "seed_s": round(seed_s, 1), "scenarios": results}


# -- report -----------------------------------------------------------------------------------------


def render(report: dict[str, Any], markdown: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    meta = report["meta"]
    title = (
        f"API benchmark: {meta['clients']} concurrent clients, {meta['rows']:,} executions in the table, "
        "uvicorn (1 worker) on 127.0.0.1"
    )
    table = Table(title=None if markdown else title, box=box.MARKDOWN if markdown else box.SIMPLE_HEAD)
    table.add_column("scenario")
    databases = [d["database"] for d in report["databases"]]
    for database in databases:
        for metric in ("req/s", "p50 ms", "p99 ms"):
            table.add_column(f"{database} {metric}", justify="right")
    names = [s["scenario"] for s in report["databases"][0]["scenarios"]]
    by_db = {d["database"]: {s["scenario"]: s for s in d["scenarios"]} for d in report["databases"]}
    for name in names:
        cells = [name]
        for database in databases:
            row = by_db[database].get(name)
            if row is None:
                cells += ["", "", ""]
                continue
            flag = f" ({row['errors']} err)" if row["errors"] else ""
            cells += [f"{row['rps']:,.0f}{flag}", f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}"]
        table.add_row(*cells)
    Console(width=160, highlight=False).print(table)


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    try:
        rev = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.TimeoutExpired):
        rev = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "commit": rev,
        "rows": args.rows,
        "clients": args.clients,
        "max_requests": args.requests,
        "max_seconds": args.seconds,
        "page": PAGE,
        "deep": DEEP,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--rows", type=int, default=100_000, help="executions in the table")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=2_000, help="requests per scenario at most (login: a tenth)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per scenario at most")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 60,000 rows, 200 requests, 5 s")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print the table of a saved run; run nothing")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    if args.render:
        render(json.loads(args.render.read_text(encoding="utf-8")), args.markdown)
        return 0
    if args.quick:
        args.rows, args.requests, args.seconds = DEEP + 10_000, 200, 5.0
    if args.rows <= DEEP:
        parser.error(f"--rows must exceed {DEEP:,} (the deep page starts there)")
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(databases) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown database(s): {sorted(unknown)}")
    report = {"meta": _meta(args), "databases": [bench_database(name, args) for name in databases]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    render(report, args.markdown)
    failed = sum(s["errors"] for d in report["databases"] for s in d["scenarios"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
