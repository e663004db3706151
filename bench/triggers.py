#!/usr/bin/env python3
"""Trigger benchmark: webhook calls accepted per second, and schedule lateness, on a real server.

    .venv/bin/python bench/triggers.py [--databases sqlite,postgres] [--calls 3000] [--clients 32]
                                       [--schedule-s 15] [--out bench/results/triggers.json]

Each database gets a fresh data dir (PostgreSQL: a throwaway server from `tests/postgres.py`),
`rpa admin create`, and `rpa orchestrator` in a child process (`cli.supervise.LocalOrchestrator`).

1. Accepted: a webhook trigger (`respond: accepted`, input mapped from the JSON body) on a published
   one-step flow; `--clients` keep-alive connections POST `--calls` calls (each with its own
   `Idempotency-Key`, so every call takes the keyed path) as fast as they are answered. Calls/s from
   the first to the last answer; latency per call (p50, p99). Every answer must be a 202; the stored
   executions are then counted through the API.
2. Schedule lateness: a schedule trigger every second (`overlap: allow`) for `--schedule-s`; for each
   execution it started, `created_at` (queued) minus its due time (the event key).

No agent runs: executions stay queued, which is what the webhook's 202 promises. The peer, n8n,
needs Docker or a Node install this machine does not have (see bench/README.md for its published
figure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _dispatch_load import RawHttp, post_request  # noqa: E402  (bench/ is on sys.path)

from cli.supervise import LocalOrchestrator  # noqa: E402

EMAIL, PASSWORD = "owner@example.com", "Hooks-Measured-42-Robots!"
FLOW = {
    "schema": "rpa.flow/1",
    "name": "Hooked",
    "inputs": {"customer": {"type": "string", "required": True}},
    "nodes": [{"id": "noop", "type": "core.wait", "params": {"seconds": 0}}],
}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def _accepted(
    server: LocalOrchestrator, url: str, calls: int, clients: int, profile: Path | None = None
) -> dict[str, Any]:
    """`calls` webhook calls over `clients` keep-alive connections, each waiting for its answer.

    The requests are bytes built before the clock starts (`_dispatch_load.post_request`) and sent
    over raw HTTP/1.1 connections (`_dispatch_load.RawHttp`): with httpx clients the generator took
    a large share of the two cores it shares with the server."""
    requests = [
        post_request(server.url, url, {"customer": f"c{n}"}, {"Idempotency-Key": uuid.uuid4().hex})
        for n in range(calls)
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pool = await asyncio.gather(*(RawHttp.open(server.url) for _ in range(clients)))
    warm = post_request(server.url, url, {"customer": "warm"}, {})
    for _ in range(20):
        await pool[0].request(warm)
    pending = iter(requests)

    async def client(http: RawHttp) -> None:
        for request in pending:
            began = time.perf_counter()
            status, _ = await http.request(request)
            latencies.append(time.perf_counter() - began)
            statuses[status] = statuses.get(status, 0) + 1

    cpu = _Cpu(server)
    spy = _profile(server, profile)
    began = time.perf_counter()
    await asyncio.gather(*(client(http) for http in pool))
    elapsed = time.perf_counter() - began
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    for http in pool:
        http.close()
    return {
        "calls": calls,
        "clients": clients,
        "per_s": calls / elapsed,
        "p50_ms": _pct(latencies, 50) * 1000,
        "p99_ms": _pct(latencies, 99) * 1000,
        "statuses": statuses,
        **cpu.used(elapsed),
    }


def _profile(server: LocalOrchestrator, out: Path | None) -> subprocess.Popen[bytes] | None:
    """`py-spy record` of the server while the calls run (collapsed stacks in `out`), if asked."""
    if out is None:
        return None
    assert server.process is not None
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    command = [spy, "record", "--format", "raw", "--rate", "200", "--pid", str(server.process.pid), "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class _Cpu:
    """The cores the server and this process used over a window (1.0 = one core busy)."""

    def __init__(self, server: LocalOrchestrator) -> None:
        assert server.process is not None
        self.server = psutil.Process(server.process.pid)
        self.own = psutil.Process()
        self.at = (_cpu(self.server), _cpu(self.own))

    def used(self, elapsed: float) -> dict[str, float]:
        return {
            "server_cores": (_cpu(self.server) - self.at[0]) / elapsed,
            "bench_cores": (_cpu(self.own) - self.at[1]) / elapsed,
        }


def _cpu(process: Any) -> float:
    """CPU seconds of `process` and its children (the server may run as a child of `rpa`)."""
    total = 0.0
    for one in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = one.cpu_times()
            total += times.user + times.system
    return total


def _lateness(server: LocalOrchestrator, workflow_id: str) -> dict[str, Any]:
    page = server.client.request(
        "GET", "/executions", params={"trigger": "schedule", "workflow_id": workflow_id, "limit": 500}
    )
    late = [
        (datetime.fromisoformat(e["created_at"]) - datetime.fromisoformat(e["trigger"]["key"])).total_seconds() * 1000
        for e in page["items"]
    ]
    return {
        "fires": len(late),
        "p50_ms": statistics.median(late) if late else None,
        "p99_ms": _pct(late, 99),
        "max_ms": max(late, default=None),
    }


def run(database: str, args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-triggers-{database}-"))
    env = {
        "HOME": str(root / "home"),
        "RPA_RATE_LIMIT_PER_MINUTE": "100000000",
        "RPA_LOGIN_RATE_LIMIT_PER_MINUTE": "10000",
    }
    pg = None
    if database == "postgres":
        from tests.postgres import PostgresServer

        pg = PostgresServer(Path(tempfile.mkdtemp(prefix="bench-triggers-pg-")))
        pg.start()
        env["RPA_DATABASE_URL"] = pg.url(asyncio.run(pg.create_database()))
    server = LocalOrchestrator(root / "data", env=env, log=root / "orchestrator.log")
    try:
        server.start()
        server.create_owner(EMAIL, PASSWORD, org="Bench")
        workflow_id = server.publish(FLOW)
        hook = server.client.request(
            "POST",
            f"/workflows/{workflow_id}/triggers",
            json={"name": "hook", "kind": "webhook", "inputs": {"customer": "{{ event.body.customer }}"}},
        )
        profile = Path(f"{args.profile}-{database}.txt") if args.profile else None
        accepted = asyncio.run(_accepted(server, hook["url"], args.calls, args.clients, profile))
        stored = server.client.request("GET", "/executions", params={"trigger": "webhook", "limit": 1})["total"]
        accepted["stored"] = stored
        scheduled_wf = server.publish({**FLOW, "name": "Scheduled"}, name="Scheduled")
        server.client.request(
            "POST",
            f"/workflows/{scheduled_wf}/triggers",
            json={
                "name": "tick",
                "kind": "schedule",
                "config": {"every_s": 1, "overlap": "allow", "catch_up": "none"},
                "inputs": {"customer": "tick"},
            },
        )
        time.sleep(args.schedule_s)
        lateness = _lateness(server, scheduled_wf)
        return {"database": database, "accepted": accepted, "schedule": lateness}
    finally:
        server.stop()
        if pg is not None:
            pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--schedule-s", type=float, default=15)
    parser.add_argument("--profile", help="py-spy the server during the calls: collapsed stacks to PROFILE-<db>.txt")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "triggers.json"))
    args = parser.parse_args()
    results = [run(database, args) for database in args.databases.split(",")]
    header = f"{'database':<10} {'webhook 202/s':>14} {'p50 ms':>8} {'p99 ms':>8} {'stored':>7}"
    print(f"{header}   {'schedule p50/p99 ms':>20}")
    for r in results:
        a, s = r["accepted"], r["schedule"]
        print(
            f"{r['database']:<10} {a['per_s']:>14.0f} {a['p50_ms']:>8.1f} {a['p99_ms']:>8.1f} {a['stored']:>7}   "
            f"{s['p50_ms']:>9.1f} / {s['p99_ms']:<8.1f} ({s['fires']} fires)"
        )
    peer = 220.0
    best = max(r["accepted"]["per_s"] for r in results)
    print(f"peer: n8n's published 220 executions/s (2 vCPU; 14-22/s on this machine kind): {best / peer:.1f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"results": results, "peer_n8n_per_s": peer}, indent=2, default=str))


if __name__ == "__main__":
    main()
