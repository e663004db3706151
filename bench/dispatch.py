#!/usr/bin/env python3
"""Dispatch benchmark: connected agents, execution throughput and resume time, over real sockets.

    .venv/bin/python bench/dispatch.py [--databases sqlite,postgres] [--agents 1000,5000,10000] [--seconds 60]
                                       [--executions 2000] [--jobs-per-agent 4] [--dead-machine] [--quick]
                                       [--scenarios connected,throughput,resume,storm] [--storm-agents 10000]
                                       [--storm-handshakes 16,100000]
                                       [--out bench/results/dispatch.json]
    .venv/bin/python bench/dispatch.py --render bench/results/dispatch.json [--markdown]

Each scenario gets a fresh data dir (for PostgreSQL a fresh database in one throwaway server from
`tests/postgres.py`), `rpa admin create`, and the orchestrator as `rpa orchestrator` in a child process
(uvicorn, `ws=websockets-sansio`), started by `cli.supervise.LocalOrchestrator`.

1. Connected agents: N agent rows are inserted straight into the database, their keys made by
   `orchestrator.runtime.enrolment.new_agent_key` as enrolment does. This process then opens N WebSockets
   with the real agent's client settings (at most 200 handshakes in flight), sends hello, waits for
   welcome, and from then on heartbeats every `RPA_HEARTBEAT_INTERVAL_S` (10 s; as in welcome) from a
   random phase. Once all are connected, for `--seconds`, each heartbeat → heartbeat.ack round trip is
   timed (matched by `ref`). The server's RSS is sampled every 0.5 s (peak); its CPU, and this
   process's, are measured over that window.
2. Throughput: 50 simulated agents (`--jobs-per-agent` slots each), a published one-step flow
   (`core.noop`), 20 untimed warm-up executions, then `--clients` keep-alive connections (64, as many
   as the paced run's; raw HTTP/1.1 with requests built once, `_dispatch_load.RawHttp`) POST
   `--executions` executions as fast as they can. Each client waits for
   its answer before the next start, so the flood can complete at most clients ÷ POST latency starts a
   second: with 16 clients and a 46 ms POST that cap was 348/s while the server could do more.
   On job.assign an agent sends job.accepted, one journal batch with the 4 events a real one-step run
   journals, waits for the journal.ack, sends job.finished and waits for its ack; these frames are
   plain JSON checked once against the protocol (`_dispatch_load`). Dispatch latency: from sending
   the POST to the agent receiving job.assign (one process, `perf_counter`). Executions/s: from the
   first POST to the last finished job. That flood measures
   the most the server completes; its dispatch latency is mostly the backlog it builds. Then 50
   executions one at a time give the dispatch latency without a queue, and the same number again at
   a fixed rate (`--rate`, 500/s; open loop on 64 connections: each start is sent when due, answered
   or not) give it at that load, timed from when each start was due; the server's and this process's
   CPU over that run, and how late this process woke to send each start (its own event loop busy with
   the agents and the other clients: lateness that counts in the dispatch latency but is not the
   server's), are kept with it. The states are then counted
   through the API. The target needs both: ≥ 500/s in the flood, and p99 < 50 ms while keeping up
   with 500/s.
3. Resume time: two real `rpa agent` processes; a loop of `core.wait` steps starts, and once two
   iterations are journaled the holding agent gets SIGKILL (or SIGSTOP: a dead machine, which only
   missed heartbeats reveal). Measured: the time until a node.started journaled by the other agent shows
   in GET /executions/{id}/events (polled every 50 ms), and from the server's history when it declared
   the execution lost and reassigned it.

4. Reconnect storm (`bench/_dispatch_storm.py`): N connected agents, the orchestrator restarted, all
   reconnecting at once with the real agent's backoff while a prober reads the API; the API read p99
   over the storm against 250 ms.

Every simulated agent heartbeats as a real one does, in every scenario. The benchmark process (all the
simulated agents) and the server share the machine's cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _dispatch_connected import bench_connected  # noqa: E402  (bench/ is on sys.path when this runs as a script)
from _dispatch_parts import (  # noqa: E402  (bench/ is on sys.path when this runs as a script)
    DEFAULT_OUT,
    TARGET_EPS,
    Store,
    _why,
)
from _dispatch_report import render  # noqa: E402  (bench/ is on sys.path when this runs as a script)
from _dispatch_resume import bench_resume  # noqa: E402  (bench/ is on sys.path when this runs as a script)
from _dispatch_storm import bench_storm  # noqa: E402  (bench/ is on sys.path when this runs as a script)
from _dispatch_throughput import PACED_CLIENTS, bench_throughput  # noqa: E402  (bench/ is on sys.path)


def main() -> int:  # noqa: C901
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--scenarios", default="connected,throughput,resume,storm", help="comma-separated")
    parser.add_argument("--storm-agents", default="10000", help="agents reconnecting in the storm, comma-separated")
    parser.add_argument(
        "--storm-handshakes",
        default="",
        help="RPA_AGENT_HANDSHAKES of the storm's server, "
        "comma-separated: one run per value and agent count (none: the server's default; "
        "a large number: admission off)",
    )
    parser.add_argument("--agents", default="1000,5000,10000", help="connected agents, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="heartbeat window once all are connected")
    parser.add_argument("--interval", type=float, default=10.0, help="RPA_HEARTBEAT_INTERVAL_S")
    parser.add_argument("--executions", type=int, default=2000, help="executions started in the throughput run")
    parser.add_argument(
        "--rate",
        type=float,
        default=float(TARGET_EPS),
        help="executions/s offered in the throughput scenario's run at a fixed rate",
    )
    parser.add_argument("--jobs-per-agent", type=int, default=4, help="max_jobs of each of the 50 agents")
    parser.add_argument(
        "--clients", type=int, default=PACED_CLIENTS, help="concurrent API clients starting executions in the flood"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the throughput (one start per request) this "
        "many times, each on a fresh server, and report every run (the machine drifts)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=20,
        help="also run the throughput with this many starts "
        "per request (POST /executions/batch); 1: only single starts",
    )
    parser.add_argument("--dead-machine", action="store_true", help="with --quick: add the SIGSTOP variant (~50 s)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200,1000 agents, 15 s, 300 executions")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print the tables of a saved run; run nothing")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = parser.parse_args()
    if args.render:
        render(json.loads(args.render.read_text(encoding="utf-8")), args.markdown)
        return 0
    for name, quick in (("agents", "200,1000"), ("seconds", 15.0), ("executions", 300), ("storm_agents", "1000")):
        if args.quick and getattr(args, name) == parser.get_default(name):
            setattr(args, name, quick)
    args.dead_machine = args.dead_machine or not args.quick  # cheap in CPU: the full run includes it
    args.agents = [int(n) for n in str(args.agents).split(",") if n.strip()]
    args.storm_agents = [int(n) for n in str(args.storm_agents).split(",") if n.strip()]
    args.storm_handshakes = [int(n) for n in str(args.storm_handshakes).split(",") if n.strip()] or [0]
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    if set(databases) - {"sqlite", "postgres"} or scenarios - {"connected", "throughput", "resume", "storm"}:
        parser.error("unknown database or scenario")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: every finally stops what it started
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.strip()
    report: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": rev or None,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_mib": psutil.virtual_memory().total >> 20,
            "nofile_limit": hard,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "interval_s": args.interval,
            "seconds": args.seconds,
            "agents": args.agents,
            "executions": args.executions,
            "clients": args.clients,
            "rate": args.rate,
            "repeat": args.repeat,
            "jobs_per_agent": args.jobs_per_agent,
            "quick": args.quick,
            "command": " ".join(["python", *sys.argv]),
            "note": "the simulated agents (this process) and the server share the machine's cores",
        },
        "databases": [],
    }
    for name in databases:
        print(f"{name}:", flush=True)
        result: dict[str, Any] = {"database": name}
        report["databases"].append(result)
        try:
            with Store(name) as store:
                for scenario, bench in (
                    ("connected", bench_connected),
                    ("throughput", bench_throughput),
                    ("resume", bench_resume),
                    ("storm", bench_storm),
                ):
                    if scenario in scenarios:
                        result[scenario] = bench(store, args)
                    if scenario == "throughput" and scenario in scenarios and args.repeat > 1:
                        result["throughput_repeats"] = [result[scenario]] + [
                            bench_throughput(store, args) for _ in range(args.repeat - 1)
                        ]
                    if scenario == "throughput" and scenario in scenarios and args.batch > 1:
                        result["throughput_batch"] = bench_throughput(store, args, args.batch)
        except Exception as error:
            result["failed"] = _why(error)
            print(f"  failed: {result['failed']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    render(report, args.markdown)
    rows = [
        r
        for d in report["databases"]
        for r in [
            *d.get("connected", []),
            *d.get("resume", []),
            *d.get("storm", []),
            *d.get("throughput_repeats", [])[1:],
            *[d[k] for k in ("throughput", "throughput_batch") if d.get(k)],
        ]
    ]
    return 1 if any("failed" in d for d in report["databases"]) or any(r.get("errors") for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
