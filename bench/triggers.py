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
2. Completed (wait mode): a webhook with `respond: wait` on the same flow, `--wait-clients`
   connections and one real `rpa agent --max-jobs --agent-jobs`; each call is answered once the
   agent ran the flow (200 with its outputs): a connection has one run in flight at a time.
   Calls/s, p50/p99, and the CPU per completed call of the server and of the agent.
3. Schedule lateness: a schedule trigger every second (`overlap: allow`) for `--schedule-s`; for each
   execution it started, `created_at` (queued) minus its due time (the event key).

In the accepted part no agent runs: executions stay queued, which is what the webhook's 202
promises. `--baseline REF` runs both webhook parts on commit REF's orchestrator too, in the same
run (the agent is this tree's). The peer, n8n: with `--n8n`, after our part, the same calls on
n8n 1.x (installed with npm the first time; see `bench/_n8n.py`), in its 202-like and wait-like
webhook modes, side by side with ours and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
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

import _n8n  # noqa: E402
from _dispatch_load import RawHttp, post_request  # noqa: E402  (bench/ is on sys.path)

from cli.supervise import LocalAgent, LocalOrchestrator  # noqa: E402

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


async def _calls(
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


def _profile(server: LocalOrchestrator, out: Path | None, pid: int | None = None) -> subprocess.Popen[bytes] | None:
    """`py-spy record` of the server (or process `pid`) while the calls run (collapsed stacks in
    `out`), if asked."""
    if out is None:
        return None
    assert server.process is not None
    pid = server.process.pid if pid is None else pid
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    command = [spy, "record", "--format", "raw", "--rate", "200", "--pid", str(pid), "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class _Cpu:
    """The cores the server and this process used over a window (1.0 = one core busy)."""

    def __init__(self, server: LocalOrchestrator) -> None:
        assert server.process is not None
        self.server = psutil.Process(server.process.pid)
        self.own = psutil.Process()
        self.at = (_cpu(self.server), _cpu(self.own, alone=True), self._others())

    def _others(self) -> float:
        """The other children of this process (the agent in wait mode)."""
        server = {self.server.pid, *(c.pid for c in self.server.children(recursive=True))}
        return sum(_cpu(c) for c in self.own.children() if c.pid not in server)

    def used(self, elapsed: float) -> dict[str, float]:
        return {
            "server_cores": (_cpu(self.server) - self.at[0]) / elapsed,
            "bench_cores": (_cpu(self.own, alone=True) - self.at[1]) / elapsed,
            "agent_cores": (self._others() - self.at[2]) / elapsed,
        }


def _cpu(process: Any, *, alone: bool = False) -> float:
    """CPU seconds of `process` and (unless `alone`) its children."""
    total = 0.0
    for one in [process, *([] if alone else process.children(recursive=True))]:
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


def _server(database: str, root: Path, code: Path | None) -> tuple[LocalOrchestrator, Any]:
    """A started orchestrator with its owner signed in (and its PostgreSQL, or None); `code`: run
    the orchestrator from that source tree instead of this one."""
    env = {
        "HOME": str(root / "home"),
        "RPA_RATE_LIMIT_PER_MINUTE": "100000000",
        "RPA_LOGIN_RATE_LIMIT_PER_MINUTE": "10000",
    }
    if code is not None:  # ahead of the editable install's finder (appended to sys.meta_path)
        env["PYTHONPATH"] = str(code)
    if os.environ.get("BENCH_PYTHONPATH"):  # e.g. a sitecustomize that counts statements
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), os.environ["BENCH_PYTHONPATH"]]))
    for name in [n for n in os.environ if n.startswith("BENCH_ENV_")]:
        env[name.removeprefix("BENCH_ENV_")] = os.environ[name]
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
    except BaseException:
        server.stop()
        if pg is not None:
            pg.stop()
        raise
    return server, pg


def _hook(server: LocalOrchestrator, name: str, **config: Any) -> str:
    """A published flow with a webhook trigger (`config`); the hook's URL path."""
    workflow_id = server.publish({**FLOW, "name": name}, name=name)
    hook = server.client.request(
        "POST",
        f"/workflows/{workflow_id}/triggers",
        json={"name": name, "kind": "webhook", "config": config, "inputs": {"customer": "{{ event.body.customer }}"}},
    )
    return str(hook["url"])


def run(database: str, args: argparse.Namespace, code: Path | None = None) -> dict[str, Any]:
    """Every scenario on one fresh server; with `code` (the baseline) only the accepted calls."""
    label = "baseline" if code is not None else "current"
    root = Path(tempfile.mkdtemp(prefix=f"bench-triggers-{database}-"))
    server, pg = _server(database, root, code)
    try:
        profile = Path(f"{args.profile}-{database}-{label}.txt") if args.profile else None
        accepted = asyncio.run(_calls(server, _hook(server, "Hooked"), args.calls, args.clients, profile))
        accepted["stored"] = server.client.request("GET", "/executions", params={"trigger": "webhook", "limit": 1})[
            "total"
        ]
        result: dict[str, Any] = {"database": database, "code": label, "accepted": accepted}
        result["wait"] = _wait_mode(server, root, args, args.profile and f"{args.profile}-{database}-wait-{label}")
        if code is None:
            result["schedule"] = _schedule(server, args)
        return result
    finally:
        server.stop()
        if pg is not None:
            pg.stop()


def _wait_mode(server: LocalOrchestrator, root: Path, args: argparse.Namespace, profile: str | None) -> dict[str, Any]:
    """Calls answered once a real agent ran the flow (200 with its outputs; a 202 is a call whose
    execution did not end within `wait_s`). With `profile`, the server's and the agent's stacks go
    to `<profile>.txt` and `<profile>-agent.txt`."""
    url = _hook(server, "Waited", respond="wait", wait_s=60)
    agent = LocalAgent(server, root / "agent", "bench", max_jobs=args.agent_jobs, env={"HOME": str(root / "home")})
    agent.start()
    try:
        agent.wait_online(server.client)
        assert agent.process is not None
        spy = _profile(server, Path(f"{profile}-agent.txt") if profile else None, agent.process.pid)
        server_profile = Path(f"{profile}.txt") if profile else None
        result = asyncio.run(_calls(server, url, args.wait_calls, args.wait_clients, server_profile))
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        result["completed_per_s"] = result["per_s"] * result["statuses"].get(200, 0) / result["calls"]
        result["agent_jobs"] = args.agent_jobs
        return result
    finally:
        agent.stop()


def _schedule(server: LocalOrchestrator, args: argparse.Namespace) -> dict[str, Any]:
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
    return _lateness(server, scheduled_wf)


def _source_of(ref: str) -> Path:
    """The tree of commit `ref` (git archive into a temporary folder)."""
    target = Path(tempfile.mkdtemp(prefix="bench-triggers-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _table(results: list[dict[str, Any]]) -> None:
    print(f"{'database':<10} {'code':<9} {'202/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'cores':>6} {'stored':>7}")
    for r in results:
        a = r["accepted"]
        print(
            f"{r['database']:<10} {r['code']:<9} {a['per_s']:>7.0f} {a['p50_ms']:>7.1f} {a['p99_ms']:>7.1f} "
            f"{a['server_cores']:>6.2f} {a['stored']:>7}"
        )
    print(
        f"\n{'database':<10} {'code':<9} {'wait: done/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'cores srv/agent':>16} "
        f"{'CPU ms/call srv/agent':>22} {'answers':>16}"
    )
    for r in results:
        w = r["wait"]
        per_call = [1000 * w[f"{who}_cores"] / w["completed_per_s"] for who in ("server", "agent")]
        print(
            f"{r['database']:<10} {r['code']:<9} {w['completed_per_s']:>12.0f} {w['p50_ms']:>7.1f} {w['p99_ms']:>7.1f} "
            f"{w['server_cores']:>8.2f}/{w['agent_cores']:<7.2f} {per_call[0]:>13.2f}/{per_call[1]:<8.2f} "
            f"{json.dumps(w['statuses']):>16}"
        )
    for r in results:
        if "schedule" in r and r["schedule"]["fires"]:
            s = r["schedule"]
            late = f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} ms"
            print(f"{r['database']}: schedule lateness p50 / p99 {late} ({s['fires']} fires)")
    for database in dict.fromkeys(r["database"] for r in results):
        pair = {r["code"]: r for r in results if r["database"] == database}
        if len(pair) == 2:
            now, before = pair["current"], pair["baseline"]
            print(
                f"{database}: current / baseline: accepted calls/s "
                f"{now['accepted']['per_s'] / before['accepted']['per_s']:.2f}x, wait-mode completed/s "
                f"{now['wait']['completed_per_s'] / before['wait']['completed_per_s']:.2f}x"
            )
    best = max(r["accepted"]["per_s"] for r in results if r["code"] == "current")
    print(f"peer: n8n's published {PEER:.0f} executions/s (2 vCPU; 14-22/s on this machine kind): {best / PEER:.1f}x")


PEER = 220.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--wait-calls", type=int, default=1000, help="calls in wait mode")
    parser.add_argument(
        "--wait-clients", type=int, default=96, help="connections in wait mode (each waits for its run)"
    )
    parser.add_argument("--agent-jobs", type=int, default=96, help="the agent's --max-jobs in wait mode")
    parser.add_argument("--schedule-s", type=float, default=15)
    parser.add_argument(
        "--baseline", metavar="REF", help="also run the webhook calls (both modes) on commit REF's orchestrator"
    )
    parser.add_argument(
        "--profile", help="py-spy the server during the calls: collapsed stacks to PROFILE-<db>-<code>.txt"
    )
    parser.add_argument("--n8n", action="store_true", help="also run the peer, n8n (bench/_n8n.py), in this run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "triggers.json"))
    args = parser.parse_args()
    baseline = _source_of(args.baseline) if args.baseline else None
    results = []
    for database in args.databases.split(","):
        if baseline is not None:
            results.append(run(database, args, baseline))
        results.append(run(database, args))
    n8n = _n8n.run(args, _calls) if args.n8n else None
    _table(results)
    if n8n is not None:
        _n8n.report(results, n8n)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"results": results, "baseline": args.baseline, "peer_n8n_per_s": PEER, "n8n": n8n}, indent=2, default=str
        )
    )


if __name__ == "__main__":
    main()
