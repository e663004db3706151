#!/usr/bin/env python3
"""AI benchmark: what our `ai.*` step path costs on top of the anthropic SDK it drives.

    .venv/bin/python bench/_integrations_ai.py [--sizes 100,300] [--out bench/results/integrations_ai.json]

N `ai.generate` nodes chained in one flow, run by the engine (in-memory journal), next to the
same N `messages.create` calls made with the SDK directly (one `AsyncAnthropic`, the same
model, max_tokens, timeout and retries), against the local Messages-API stand-in
(`tests/fakes/anthropic_server.py`) run in its own process so it does not share our GIL. The
stand-in answers at once, so the numbers are the pure overhead of our path (params validation,
templating, journal, usage and cost accounting, the `ai_usage` note), not a model's latency.
Best of `REPEATS` runs, peers interleaved; ratio engine / SDK for wall and CPU time.

`bench/integrations.py` joins it as a section: `ai_section(sizes)` (async) or `run(args)`,
both returning rows of its shape (`ratio_vs_httpx` there is the ratio against the SDK here).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "integrations_ai.json"
REPEATS = 3
KEY = "sk-ant-bench-0000"
MODEL = "claude-haiku-4-5"
SETTINGS = {"model": MODEL, "max_tokens": 64, "timeout": 30.0, "max_retries": 0}


def serve() -> None:
    """Child process: run the stand-in on a free port, print its URL, serve until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.anthropic_server import FakeAnthropic

    with FakeAnthropic(keys={KEY}) as api:
        print(api.url, flush=True)
        sys.stdin.read()


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


async def _sdk_direct(url: str, n: int) -> tuple[float, float]:
    import anthropic

    client = anthropic.AsyncAnthropic(
        api_key=KEY, base_url=url, timeout=SETTINGS["timeout"], max_retries=SETTINGS["max_retries"]
    )
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        reply = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": f"prompt {i}"}], timeout=30.0
        )
        _ = "".join(b.text for b in reply.content if b.type == "text"), reply.usage.input_tokens
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await client.close()
    return elapsed, cpu


def _chain(url: str, n: int) -> dict[str, Any]:
    params = {**SETTINGS, "credential": "anthropic", "base_url": url}
    nodes = [{"id": f"g{i}", "type": "ai.generate", "params": {**params, "prompt": f"prompt {i}"}} for i in range(n)]
    edges = [{"from": f"g{i}", "to": f"g{i + 1}"} for i in range(n - 1)]
    return {"schema": "rpa.flow/1", "name": f"ai-{n}", "nodes": nodes, "edges": edges}


async def _engine(url: str, n: int, tmp: Path) -> tuple[float, float]:
    from shared.engine import Engine, MemoryJournal
    from shared.flow import load_flow
    from shared.steps import StepRegistry

    registry = StepRegistry.default()
    engine = Engine(registry, secrets={"anthropic": KEY}.get, artifacts_dir=tmp / "artifacts")
    flow = load_flow(_chain(url, n), registry=registry)
    journal = MemoryJournal(f"bench-ai-{n}-{time.monotonic_ns()}")
    start, cpu = time.perf_counter(), time.process_time()
    result = await engine.run(flow, {}, journal=journal)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if result.status != "succeeded":
        raise RuntimeError(f"the AI flow ended {result.status}: {result.error}")
    return elapsed, cpu


def _row(path: str, n: int, times: list[tuple[float, float]], base: tuple[float, float]) -> dict[str, Any]:
    best, best_cpu = min(w for w, _ in times), min(c for _, c in times)
    return {
        "section": "ai",
        "path": path,
        "requests": n,
        "best_s": round(best, 4),
        "runs_s": [round(w, 4) for w, _ in times],
        "requests_per_s": round(n / best, 1),
        "ms_per_request": round(1000 * best / n, 3),
        "ratio_vs_httpx": round(best / base[0], 3),
        "cpu_ms_per_request": round(1000 * best_cpu / n, 3),
        "cpu_ratio_vs_httpx": round(best_cpu / base[1], 3),
    }


async def ai_section(sizes: list[int]) -> list[dict[str, Any]]:
    """Rows: per size, the SDK direct and the engine path; ratios against the SDK."""
    process, url = start_server()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="rpa-bench-ai-") as folder:
            tmp = Path(folder)
            await _sdk_direct(url, 20)  # warm up imports, server and connections
            await _engine(url, 20, tmp)
            for n in sizes:
                runs: dict[str, list[tuple[float, float]]] = {"sdk": [], "engine-memory": []}
                for _ in range(REPEATS):  # interleaved, so drift hits both paths alike
                    runs["sdk"].append(await _sdk_direct(url, n))
                    runs["engine-memory"].append(await _engine(url, n, tmp))
                base = (min(w for w, _ in runs["sdk"]), min(c for _, c in runs["sdk"]))
                rows += [_row(path, n, times, base) for path, times in runs.items()]
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(10)
    return rows


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The rows for `args.sizes` (a list of ints, or a comma-separated string)."""
    sizes = args.sizes if isinstance(args.sizes, list) else [int(s) for s in str(args.sizes).split(",")]
    return asyncio.run(ai_section(sizes))


def render(rows: list[dict[str, Any]]) -> str:
    header = f"{'path':14} {'steps':>6} {'best s':>8} {'steps/s':>9} {'ms/step':>8} {'ratio':>7} {'cpu ratio':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['path']:14} {r['requests']:>6} {r['best_s']:>8.3f} {r['requests_per_s']:>9.1f} "
            f"{r['ms_per_request']:>8.3f} {r['ratio_vs_httpx']:>6.2f}x {r['cpu_ratio_vs_httpx']:>8.2f}x"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100,300", help="step counts, comma-separated")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    sys.path.insert(0, str(ROOT))
    rows = run(args)
    print(render(rows))
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "repeats": REPEATS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
