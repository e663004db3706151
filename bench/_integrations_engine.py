#!/usr/bin/env python3
"""The engine's own CPU per HTTP node, without the network: the steady part of the HTTP ratio.

    .venv/bin/python bench/_integrations_engine.py [--nodes 1000] [--out bench/results/integrations_engine.json]

The HTTP section's ratio mixes httpx, the loopback socket and whatever else the machine runs.
This section takes the network out: a step with `http.request`'s params model that returns an
answer of the same shape as the HTTP section's (status, headers, a small JSON body) at once.
N of them run as a chain through the engine (in-memory and SQLite journals), as a loop of N
iterations over one node (`control.foreach`), through `StepEnvironment` (the step path alone),
and as direct calls (`model_validate` + the function). The `noop-*` rows run `core.noop`
instead (bench/engine.py's sequential and foreach scenarios, in CPU time): the engine per plain
step. Each row is the best of `--repeats` runs in CPU time per node, the Python garbage
collector as `rpa agent` runs it
(`agent/runtime/_gc.py`; `--gc python`: Python's defaults). "engine µs" is the row minus the
`step` row: what the engine adds to each HTTP node on top of the step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "integrations_engine.json"
URL = "http://127.0.0.1:8/items"
HEADERS = {"date": "Mon, 07 Dec 2026 18:00:00 GMT", "server": "uvicorn", "content-type": "application/json"}
ANSWER_JSON = {"ok": True, "items": [{"id": i, "name": f"row {i}"} for i in range(5)]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine (no network)")
    group.add_argument("--nodes", type=int, default=1000, help="engine: nodes per run")


def _steps() -> tuple[Any, Any]:
    from agent.steps.http._models import RequestParams
    from shared.steps import StepRegistry, step
    from shared.steps.builtin import BUILTIN_STEPS

    async def answer(params: RequestParams) -> dict[str, Any]:
        """The output `http.request` gives for the HTTP section's server, built fresh each time."""
        body = {"ok": True, "items": [dict(item) for item in ANSWER_JSON["items"]]}
        return {"status": 200, "reason": "OK", "url": params.url, "headers": dict(HEADERS), "json": body, "text": None}

    fn = step("bench.http_answer", params=RequestParams)(answer)
    return fn, StepRegistry([*BUILTIN_STEPS, fn])


def _documents(n: int) -> dict[str, dict[str, Any]]:
    node = {"type": "bench.http_answer", "params": {"url": URL}}
    chain = {
        "schema": "rpa.flow/1",
        "name": "chain",
        "nodes": [{"id": f"r{i}", **node} for i in range(n)],
        "edges": [{"from": f"r{i}", "to": f"r{i + 1}"} for i in range(n - 1)],
    }
    loop = {
        "schema": "rpa.flow/1",
        "name": "loop",
        "nodes": [
            {
                "id": "each",
                "type": "control.foreach",
                "params": {"items": list(range(n))},
                "body": {"nodes": [{"id": "r", **node}], "edges": []},
            }
        ],
        "edges": [],
    }
    noop = {"type": "core.noop", "params": {"value": 1}}
    noop_chain = {**chain, "name": "noop-chain", "nodes": [{"id": f"r{i}", **noop} for i in range(n)]}
    noop_loop = {**loop, "name": "noop-loop"}
    noop_loop["nodes"] = [{**loop["nodes"][0], "body": {"nodes": [{"id": "r", **noop}], "edges": []}}]
    return {"chain": chain, "loop": loop, "noop-chain": noop_chain, "noop-loop": noop_loop}


async def _measure(n: int, repeats: int) -> dict[str, float]:
    from agent.steps.http._models import RequestParams
    from shared.engine import Engine, MemoryJournal, SqliteJournal
    from shared.flow import load_flow
    from shared.steps import StepEnvironment

    fn, registry = _steps()
    flows = {name: load_flow(doc, registry=registry) for name, doc in _documents(n).items()}
    folder = Path(tempfile.mkdtemp(prefix="rpa-bench-engine-"))

    async def direct() -> None:
        for _ in range(n):
            await fn(RequestParams.model_validate({"url": URL}))

    async def through_env() -> None:
        env = StepEnvironment(artifacts_dir=folder / "env")
        for _ in range(n):
            await env.run(fn, {"url": URL})
        await env.aclose()

    def engine(flow_name: str, journal_kind: str) -> Any:
        async def run() -> None:
            execution_id = f"bench-{time.monotonic_ns()}"
            journal: Any = (
                MemoryJournal(execution_id)
                if journal_kind == "memory"
                else SqliteJournal(folder / f"{execution_id}.db", execution_id)
            )
            result = await Engine(registry, artifacts_dir=folder / "artifacts").run(flows[flow_name], journal=journal)
            journal.close()
            if result.status != "succeeded":
                raise RuntimeError(f"the {flow_name} flow ended {result.status}: {result.error}")

        return run

    paths = {
        "direct": direct,
        "step": through_env,
        "engine-memory": engine("chain", "memory"),
        "engine-sqlite": engine("chain", "sqlite"),
        "foreach-memory": engine("loop", "memory"),
        "noop-memory": engine("noop-chain", "memory"),
        "noop-sqlite": engine("noop-chain", "sqlite"),
        "noop-foreach-memory": engine("noop-loop", "memory"),
    }
    return {name: 1e6 * cpu / n for name, cpu in (await _best(paths, repeats)).items()}


async def _best(paths: dict[str, Any], repeats: int) -> dict[str, float]:
    """The least CPU seconds of each path over `repeats` interleaved runs (drift hits all alike)."""
    best: dict[str, float] = {}
    for run in paths.values():
        await run()  # warm up
    for _ in range(repeats):
        for name, run in paths.items():
            start = time.process_time()
            await run()
            cpu = time.process_time() - start
            best[name] = min(best.get(name, cpu), cpu)
    return best


def engine_section(n: int, repeats: int = 9, gc_policy: str = "agent") -> list[dict[str, Any]]:
    """Rows: one per path, CPU µs per node, and what the engine adds over the step alone."""
    if gc_policy == "agent":
        from agent.runtime import AgentGcPolicy

        with AgentGcPolicy().applied():
            per_node = asyncio.run(_measure(n, repeats))
    else:
        per_node = asyncio.run(_measure(n, repeats))
    step = per_node["step"]
    return [
        {
            "path": name,
            "nodes": n,
            "cpu_us_per_node": round(value, 1),
            "engine_us": round(value - step, 1) if name.startswith(("engine", "foreach")) else None,
            # noop rows: the engine's cost per plain step (`core.noop`), as bench/engine.py runs them
            "gc": gc_policy,
        }
        for name, value in per_node.items()
    ]


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The rows for `args.nodes` (`args.repeats`, default 9; `args.gc`, default agent)."""
    repeats = getattr(args, "repeats", None) or 9
    return engine_section(getattr(args, "nodes", 1000), repeats, getattr(args, "gc", "agent"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--gc", choices=("agent", "python"), default="agent", help="agent: as `rpa agent` runs it")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _sections

    rows = run(args)
    print(_sections.render_table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
