#!/usr/bin/env python3
"""Engine benchmark: per-step overhead of the durable engine, next to Prefect and Temporal.

    .venv/bin/python bench/engine.py [--peers-python PATH] [--quick] [--out bench/results/engine.json]

Every scenario runs in a fresh child process (this same file with `--scenario NAME --journal
memory|sqlite`), so the peak RSS it reports belongs to that scenario alone. The child builds and
validates the flow once (`load_s`), then times only `engine.run` three times and keeps the best
run. The peer scripts in `bench/peers/` run under their own interpreter (`--peers-python`) and
may fail without failing this benchmark. See bench/README.md for what each scenario means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _engine_report import (  # bench/_engine_report.py: this script's folder is on sys.path
    TARGET_DURABLE_MS,
    TARGET_PEER_RATIO,
    ratios,
    render,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "engine.json"

REPEATS = 3
CHILD_TIMEOUT_S = 900.0
PEER_TIMEOUT_S = 1800.0

_SCENARIO = re.compile(r"^(sequential|sequential-expr|fanout|foreach|parallel_foreach)-(\d+)(?:-p(\d+))?$")


# -- the scenarios (pure data: flow documents) -------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One flow shape at one size; `name` is what the child is given on its command line."""

    kind: str
    size: int
    max_parallel: int | None = None

    @property
    def name(self) -> str:
        suffix = f"-p{self.max_parallel}" if self.max_parallel is not None else ""
        return f"{self.kind}-{self.size}{suffix}"

    @classmethod
    def parse(cls, name: str) -> Scenario:
        match = _SCENARIO.match(name)
        if match is None:
            raise ValueError(f"unknown scenario {name!r} (e.g. sequential-1000, fanout-1000-p64)")
        kind, size, parallel = match.groups()
        return cls(kind, int(size), int(parallel) if parallel else None)

    @property
    def expected_steps(self) -> int:
        """Node instances the run must execute (each ends with one `node.succeeded`)."""
        if self.kind == "fanout":
            return self.size + 2  # start + the fan + join
        if self.kind in ("foreach", "parallel_foreach"):
            return self.size + 1  # the loop node + one body node per iteration
        return self.size

    def document(self) -> dict[str, Any]:
        """The flow document of this scenario."""
        n = self.size
        settings: dict[str, Any] = {}
        if self.max_parallel is not None:
            settings["max_parallel_nodes"] = self.max_parallel
        nodes: list[dict[str, Any]]
        edges: list[dict[str, Any]]
        if self.kind == "sequential":
            nodes = [{"id": f"n{i}", "type": "core.noop", "params": {"value": i}} for i in range(n)]
            edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]
        elif self.kind == "sequential-expr":
            # Like the peers' `increment`: each step's input is the previous step's output.
            nodes = [{"id": "n0", "type": "core.noop", "params": {"value": 1}}]
            nodes += [
                {"id": f"n{i}", "type": "core.noop", "params": {"value": f"{{{{ steps.n{i - 1}.output + 1 }}}}"}}
                for i in range(1, n)
            ]
            edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]
        elif self.kind == "fanout":
            nodes = [{"id": "start", "type": "core.noop"}, {"id": "join", "type": "core.noop"}]
            nodes += [{"id": f"w{i}", "type": "core.noop", "params": {"value": i}} for i in range(n)]
            edges = [{"from": "start", "to": f"w{i}"} for i in range(n)]
            edges += [{"from": f"w{i}", "to": "join"} for i in range(n)]
        else:
            body_node = {"id": "body", "type": "core.noop", "params": {"value": "{{ item }}"}}
            body = {"nodes": [body_node], "edges": []}
            # parallel_foreach: concurrency defaults to settings.max_parallel_nodes.
            nodes = [{"id": "loop", "type": f"control.{self.kind}", "params": {"items": n}, "body": body}]
            edges = []
        return {
            "schema": "rpa.flow/1",
            "name": f"bench-{self.name}",
            "settings": settings,
            "nodes": nodes,
            "edges": edges,
        }


def plan(quick: bool) -> list[tuple[Scenario, str, str]]:
    """(scenario, journal, synchronous) to measure, in table order."""
    seq = (200, 1000) if quick else (1000, 10000)
    wide = 200 if quick else 1000
    runs: list[tuple[Scenario, str, str]] = []
    for size in seq:
        scenario = Scenario("sequential", size)
        runs += [(scenario, "memory", ""), (scenario, "sqlite", "NORMAL")]
    runs.append((Scenario("sequential", 1000), "sqlite", "FULL"))
    runs.append((Scenario("sequential-expr", 1000), "sqlite", "NORMAL"))
    for scenario in (
        Scenario("fanout", wide),
        Scenario("fanout", wide, 64),
        Scenario("foreach", wide),
        Scenario("parallel_foreach", wide),
    ):
        runs += [(scenario, "memory", ""), (scenario, "sqlite", "NORMAL")]
    return runs


# -- the child: one scenario, one journal, in a fresh process ------------------------------------


def _rss_mib() -> float:
    # ru_maxrss is the high-water mark of this process, in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    # Resident set size now (not the high-water mark): the second field of statm, in pages.
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(scenario: Scenario, journal_kind: str, synchronous: str, repeats: int) -> dict[str, Any]:
    """Load the flow once, run it `repeats` times; the numbers of the best run."""
    sys.path.insert(0, str(ROOT))
    from shared.engine import Engine, MemoryJournal, SqliteJournal
    from shared.flow import load_flow
    from shared.steps import StepRegistry

    registry = StepRegistry.default()
    engine = Engine(registry, artifacts_dir=Path(tempfile.gettempdir()) / "rpa-bench-artifacts")
    base_rss = _rss_mib()

    start = time.perf_counter()
    flow = load_flow(scenario.document(), registry=registry)
    load_s = time.perf_counter() - start
    gc.collect()
    loaded_rss = _current_rss_mib()

    runs: list[float] = []
    counts: dict[str, int] = {}
    # Generous (a fsync per event stays far below 20 ms), yet a hang costs seconds, not the
    # parent's CHILD_TIMEOUT_S.
    limit_s = 20 + 0.02 * scenario.expected_steps

    async def run_all(tmp: Path) -> None:
        for attempt in range(repeats):
            execution_id = f"bench-{scenario.name}-{attempt}"
            if journal_kind == "sqlite":
                journal: Any = SqliteJournal(tmp / f"{attempt}.db", execution_id, synchronous=synchronous)
            else:
                journal = MemoryJournal(execution_id)
            gc.collect()
            start = time.perf_counter()
            try:
                async with asyncio.timeout(limit_s):
                    result = await engine.run(flow, {}, journal=journal)
            except TimeoutError:
                raise RuntimeError(
                    f"engine.run did not return within {limit_s:g} s ({len(journal.read())} events journaled): a hang?"
                ) from None
            runs.append(time.perf_counter() - start)
            if result.status != "succeeded":
                raise RuntimeError(f"the execution ended {result.status}: {result.error}")
            counts["events"], counts["steps"] = _count_events(journal, journal_kind)
            if counts["steps"] != scenario.expected_steps:
                raise RuntimeError(f"{counts['steps']} node instances succeeded, expected {scenario.expected_steps}")
            del result
            journal.close()
            del journal

    with tempfile.TemporaryDirectory(prefix="rpa-bench-") as tmp:
        # One event loop for all runs; only `await engine.run(...)` is inside the timing.
        asyncio.run(run_all(Path(tmp)))
        last = Path(tmp).glob(f"{repeats - 1}.db*")
        journal_bytes = sum(p.stat().st_size for p in last) if journal_kind == "sqlite" else None
        fs_type = _filesystem_of(Path(tmp))
    steps, events = counts["steps"], counts["events"]
    best = min(runs)
    return {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "size": scenario.size,
        "max_parallel_nodes": scenario.max_parallel or 8,
        "journal": journal_kind,
        "synchronous": synchronous or None,
        "steps": steps,
        "events": events,
        "load_s": round(load_s, 4),
        "runs_s": [round(r, 4) for r in runs],
        "total_s": round(best, 4),
        "per_step_ms": round(best * 1000 / steps, 4),
        "steps_per_s": round(steps / best),
        "base_rss_mib": round(base_rss, 1),
        "loaded_rss_mib": round(loaded_rss, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
        "journal_bytes": journal_bytes,
        "journal_fs": fs_type if journal_kind == "sqlite" else None,
    }


def _count_events(journal: Any, journal_kind: str) -> tuple[int, int]:
    """(events, node.succeeded events). Counted by SQLite itself for the durable journal: reading
    20,000 events back into Python would raise the peak RSS this benchmark reports."""
    if journal_kind == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(journal.path)) as db:
            row = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(type = 'node.succeeded'), 0) FROM events WHERE execution_id = ?",
                (journal.execution_id,),
            ).fetchone()
        return int(row[0]), int(row[1])
    events = journal.read()
    return len(events), sum(1 for e in events if e.type == "node.succeeded")


def _filesystem_of(path: Path) -> str | None:
    """The filesystem type /proc/mounts gives for `path` (tmpfs would make fsync free)."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return None
    best: tuple[int, str] | None = None
    resolved = str(path.resolve())
    for fields in mounts:
        point = fields[1]
        if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and (
            best is None or len(point) > best[0]
        ):
            best = (len(point), fields[2])
    return best[1] if best else None


# -- the parent: children, peers, table, JSON ----------------------------------------------------


def _last_json_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                return parsed
    raise ValueError("no JSON line on stdout")


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[-400:]


def run_child(scenario: Scenario, journal: str, synchronous: str, repeats: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--scenario",
        scenario.name,
        "--journal",
        journal,
        "--repeats",
        str(repeats),
    ]
    if synchronous:
        command += ["--synchronous", synchronous]
    row: dict[str, Any] = {"scenario": scenario.name, "journal": journal, "synchronous": synchronous or None}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {**row, "error": f"timed out after {CHILD_TIMEOUT_S:g} s"}
    if done.returncode != 0:
        # The child's last stderr line is its exception ("RuntimeError: engine.run did not ...").
        return {**row, "error": _tail(done.stderr, 1) or f"exit {done.returncode}", "exit": done.returncode}
    try:
        return _last_json_line(done.stdout)
    except ValueError as err:
        return {**row, "error": f"{err}: {_tail(done.stdout + done.stderr)}"}


def peer_commands(python: str, quick: bool) -> list[tuple[str, list[str]]]:
    """(label, command) of each peer run."""
    tasks, regular = (200, 50) if quick else (1000, 200)
    peers = ROOT / "bench" / "peers"
    return [
        (f"Prefect tasks x {tasks}", [python, str(peers / "prefect_tasks.py"), "--tasks", str(tasks)]),
        (
            f"Temporal local activities x {tasks}",
            [python, str(peers / "temporal_activities.py"), "--tasks", str(tasks), "--mode", "local"],
        ),
        (
            f"Temporal activities x {regular}",
            [python, str(peers / "temporal_activities.py"), "--tasks", str(regular), "--mode", "regular"],
        ),
    ]


def run_peer(label: str, command: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"label": label, "command": " ".join(command)}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PEER_TIMEOUT_S,
            cwd=ROOT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {**row, "error": f"timed out after {PEER_TIMEOUT_S:g} s"}
    except OSError as err:
        return {**row, "error": f"could not start: {err}"}
    row["wall_s"] = round(time.perf_counter() - start, 1)
    if done.returncode != 0:
        return {**row, "error": f"exit {done.returncode}: {_tail(done.stderr, 1)}"}
    try:
        return {**row, **_last_json_line(done.stdout)}
    except ValueError as err:
        return {**row, "error": f"{err}: {_tail(done.stdout + done.stderr)}"}


def _meta(quick: bool) -> dict[str, Any]:
    # Read-only git queries: which engine was measured, and whether it had uncommitted edits.
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
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "shared"],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.TimeoutExpired):
        rev, dirty = None, None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "commit": rev,
        "shared_has_uncommitted_changes": dirty,
        "quick": quick,
        "repeats": REPEATS,
        "targets": {"durable_ms_per_step": TARGET_DURABLE_MS, "peer_ratio": TARGET_PEER_RATIO},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peers-python", metavar="PATH", help="interpreter with prefect and temporalio (e.g. .venv-peers/bin/python)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print the table of a saved run; run nothing")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    child = parser.add_argument_group("one scenario (what the parent runs in each child process)")
    child.add_argument("--scenario", help="e.g. sequential-1000, fanout-1000-p64, foreach-1000")
    child.add_argument("--journal", choices=["memory", "sqlite"], default="memory")
    child.add_argument(
        "--synchronous",
        choices=["NORMAL", "FULL"],
        default="NORMAL",
        help="SQLite synchronous pragma (sqlite journal only)",
    )
    child.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()

    if args.scenario:
        scenario = Scenario.parse(args.scenario)
        synchronous = args.synchronous if args.journal == "sqlite" else ""
        print(json.dumps(measure(scenario, args.journal, synchronous, args.repeats)), flush=True)
        return 0
    if args.render:
        render(json.loads(args.render.read_text(encoding="utf-8")), args.markdown)
        return 0

    report: dict[str, Any] = {"meta": _meta(args.quick), "scenarios": [], "peers": [], "ratios": []}
    for scenario, journal, synchronous in plan(args.quick):
        print(f"… {scenario.name} / {journal} {synchronous}".rstrip(), file=sys.stderr, flush=True)
        report["scenarios"].append(run_child(scenario, journal, synchronous, REPEATS))
    if args.peers_python:
        python = Path(args.peers_python)
        if python.exists():
            for label, command in peer_commands(str(python), args.quick):
                print(f"… peer: {label}", file=sys.stderr, flush=True)
                report["peers"].append(run_peer(label, command))
        else:
            report["peers_note"] = f"Peers not run: no interpreter at {python}."
    report["ratios"] = ratios(report["scenarios"], report["peers"])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    render(report, args.markdown)
    print(f"Results written to {args.out}", file=sys.stderr)
    return 1 if any("error" in row for row in report["scenarios"]) else 0


if __name__ == "__main__":
    sys.exit(main())
