#!/usr/bin/env python3
"""Integrations benchmark: what our step path costs on top of the library it drives.

    .venv/bin/python bench/integrations.py [--quick] [--sections http,imap] [--sizes 200,1000]
                                           [--messages 200] [--repeats N] [--out bench/results/integrations.json]

HTTP: N GET requests through the engine (a chain of N `http.request` nodes, in-memory and
durable SQLite journals) and through the step alone (`StepEnvironment`, path `step`), next to the
same N calls made with httpx directly (one AsyncClient,
`raise_for_status()` and `.json()` like the step), against one local server. The server runs
in its own process (uvicorn, a fixed JSON answer) so it does not share the client's GIL. Each
measurement is the best of `REPEATS` runs, peers interleaved, in the same run; the ratio
engine / httpx is printed and written to the JSON, for wall time and for the client process's
CPU time (steadier when other work shares the machine). `--gc agent` (the default) runs the
garbage collector as `rpa agent` does (`agent/runtime/_gc.py`: start-up frozen, rarer young
collections), installed after the warm-up and for every path alike; `--gc python` keeps
Python's defaults.

IMAP: `bench/_integrations_imap.py` (messages/s fetched with attachments: `email.search` vs
IMAPClient), `--messages` mails on a local pymap server. Engine: `bench/_integrations_engine.py`
(the engine's CPU per HTTP node without the network, `--nodes`).

Sections are a table (`SECTIONS`: name -> `run(args) -> list[dict]`). A section in its own file
(`bench/_integrations_<name>.py`) exposes `run(args)` and, when it has options of its own,
`add_arguments(parser)`; its rows carry their own columns and get their own table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _sections  # bench/_sections.py: this script's folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "integrations.json"
REPEATS = 5
TARGET_HTTP_RATIO = 1.10
"""Engine + http.request CPU time over plain httpx CPU time, in-memory journal."""
BODY = json.dumps({"ok": True, "items": [{"id": i, "name": f"row {i}"} for i in range(5)]}).encode()


# -- the server (child process) -----------------------------------------------------------------


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="off")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}/items"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the benchmark server did not start")


# -- HTTP -----------------------------------------------------------------------------------------


async def _httpx_direct(url: str, n: int) -> tuple[float, float]:
    """(wall s, this process's CPU s) for n requests."""
    import httpx

    async with httpx.AsyncClient() as client:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            response = await client.get(url)
            response.raise_for_status()
            response.json()
        return time.perf_counter() - start, time.process_time() - cpu


async def _step(url: str, n: int) -> tuple[float, float]:
    """(wall s, CPU s) for n `http.request` calls through `StepEnvironment`: the step's own path
    (params validation, the execution's client, the error boundary, the output) without the engine."""
    from agent.steps.http import request
    from shared.steps import StepEnvironment

    env = StepEnvironment()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await env.run(request, {"url": url})
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await env.aclose()
    return elapsed, cpu


def _chain(url: str, n: int) -> dict[str, Any]:
    nodes = [{"id": f"r{i}", "type": "http.request", "params": {"url": url}} for i in range(n)]
    edges = [{"from": f"r{i}", "to": f"r{i + 1}"} for i in range(n - 1)]
    return {"schema": "rpa.flow/1", "name": f"http-{n}", "nodes": nodes, "edges": edges}


async def _engine(url: str, n: int, journal_kind: str, tmp: Path) -> tuple[float, float]:
    from shared.engine import Engine, MemoryJournal, SqliteJournal
    from shared.flow import load_flow
    from shared.steps import StepRegistry

    registry = StepRegistry.default()
    engine = Engine(registry, artifacts_dir=tmp / "artifacts")
    flow = load_flow(_chain(url, n), registry=registry)
    execution_id = f"bench-http-{n}-{journal_kind}-{time.monotonic_ns()}"
    journal: Any = (
        SqliteJournal(tmp / f"{execution_id}.db", execution_id)
        if journal_kind == "sqlite"
        else MemoryJournal(execution_id)
    )
    start, cpu = time.perf_counter(), time.process_time()
    result = await engine.run(flow, {}, journal=journal)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    journal.close()
    if result.status != "succeeded":
        raise RuntimeError(f"the HTTP flow ended {result.status}: {result.error}")
    return elapsed, cpu


async def http_section(sizes: list[int], repeats: int = REPEATS, gc_policy: str = "agent") -> list[dict[str, Any]]:
    """Rows: one per (size, path); ratios against httpx direct at the same size."""
    from agent.runtime import AgentGcPolicy

    process, url = start_server()
    rows: list[dict[str, Any]] = []
    policy = AgentGcPolicy()
    try:
        await _httpx_direct(url, 50)  # warm up the server, the imports and the connection pool
        with tempfile.TemporaryDirectory(prefix="rpa-bench-http-") as folder:
            tmp = Path(folder)
            await _engine(url, 20, "memory", tmp)
            await _step(url, 20)
            if gc_policy == "agent":
                policy.install()  # as `rpa agent` does once started
            for n in sizes:
                runs: dict[str, list[tuple[float, float]]] = {
                    "httpx": [],
                    "step": [],
                    "engine-memory": [],
                    "engine-sqlite": [],
                }
                for _ in range(repeats):  # interleaved, so drift hits every path alike
                    runs["httpx"].append(await _httpx_direct(url, n))
                    runs["step"].append(await _step(url, n))
                    runs["engine-memory"].append(await _engine(url, n, "memory", tmp))
                    runs["engine-sqlite"].append(await _engine(url, n, "sqlite", tmp))
                base = min(wall for wall, _ in runs["httpx"])
                base_cpu = min(cpu for _, cpu in runs["httpx"])
                for path, times in runs.items():
                    best = min(wall for wall, _ in times)
                    best_cpu = min(cpu for _, cpu in times)
                    rows.append(
                        {
                            "section": "http",
                            "path": path,
                            "requests": n,
                            "best_s": round(best, 4),
                            "runs_s": [round(wall, 4) for wall, _ in times],
                            "requests_per_s": round(n / best, 1),
                            "ms_per_request": round(1000 * best / n, 3),
                            "ratio_vs_httpx": round(best / base, 3),
                            "cpu_ms_per_request": round(1000 * best_cpu / n, 3),
                            "cpu_ratio_vs_httpx": round(best_cpu / base_cpu, 3),
                            "gc": gc_policy,
                        }
                    )
    finally:
        policy.uninstall()
        process.terminate()
        process.wait(10)
    return rows


def _http(args: argparse.Namespace) -> list[dict[str, Any]]:
    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",")]
    return asyncio.run(http_section(sizes, args.repeats or REPEATS, args.gc))


FILE_SECTIONS = ("_integrations_imap", "_integrations_ai", "_integrations_engine")
"""Sections in files of their own, named after the file (`_integrations_imap.py` -> "imap").
A section file exposes `run(args)`, and `add_arguments(parser)` for options of its own."""
SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict[str, Any]]]] = {"http": _http}
"""Section name -> its measurement, in the order they run; FILE_SECTIONS are added by main()."""


def _load_sections(parser: argparse.ArgumentParser) -> None:
    for name, module in _sections.load(FILE_SECTIONS, parser).items():
        SECTIONS[name.removeprefix("_integrations_")] = module.run


# -- report ---------------------------------------------------------------------------------------


def render(rows: list[dict[str, Any]]) -> str:
    """The HTTP rows' table."""
    header = (
        f"{'section':8} {'path':14} {'requests':>8} {'best s':>8} {'req/s':>9} {'ms/req':>8} {'ratio':>7}"
        f" {'cpu ms/req':>10} {'cpu ratio':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['section']:8} {row['path']:14} {row['requests']:>8} {row['best_s']:>8.3f} "
            f"{row['requests_per_s']:>9.1f} {row['ms_per_request']:>8.3f} {row['ratio_vs_httpx']:>6.2f}x"
            f" {row['cpu_ms_per_request']:>10.3f} {row['cpu_ratio_vs_httpx']:>8.2f}x"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="200,1000", help="HTTP: request counts, comma-separated")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measurement (default: each section's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--gc",
        choices=("agent", "python"),
        default="agent",
        help="HTTP and engine: the garbage collector as `rpa agent` runs it (default), or Python's defaults",
    )
    _load_sections(parser)
    parser.add_argument("--sections", default=",".join(SECTIONS), help="sections to run, comma-separated")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    sys.path.insert(0, str(ROOT))
    if args.quick and getattr(args, "messages", None) is not None:
        args.messages = min(args.messages, 20)
    rows: list[dict[str, Any]] = []
    for name in args.sections.split(","):
        if name not in SECTIONS:
            parser.error(f"no section {name!r}: choose from {', '.join(SECTIONS)}")
        section = [{"section": name, **row} for row in SECTIONS[name](args)]
        print(render(section) if name == "http" else _sections.render_table(section), end="\n\n")
        rows += section
    engine_rows = [r for r in rows if r["section"] == "http" and r["path"] == "engine-memory"]
    if engine_rows:
        # CPU time is the measure: wall time swings with whatever else shares the machine.
        worst = max(r["cpu_ratio_vs_httpx"] for r in engine_rows)
        verdict = "met" if worst <= TARGET_HTTP_RATIO else "MISSED"
        print(
            f"HTTP overhead target engine-memory CPU <= {TARGET_HTTP_RATIO:.2f}x httpx: {verdict} (worst {worst:.2f}x;"
            f" wall worst {max(r['ratio_vs_httpx'] for r in engine_rows):.2f}x; gc {args.gc})"
        )
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "gc": args.gc,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows, "target_http_ratio": TARGET_HTTP_RATIO}, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
