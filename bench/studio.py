#!/usr/bin/env python3
"""Studio model benchmark: open, index, validate, and edit + undo on large flows (no Qt).

    .venv/bin/python bench/studio.py [--sizes 100,1000,5000] [--repeats 20] [--out bench/results/studio.json]

The flows are structured like real ones: a chain of steps with a `control.foreach` holding four
steps every 25 nodes and an `if` with two branches every 50 (node counts include the nested
ones). `open` parses the JSON text and indexes every node; `edit + undo` is the median of one
edit and its undo, events included; `validate` is the live validation (the `rpa validate`
checks plus the analyser).

The view half (`--views`, on by default; `bench/_studio_canvas.py`, one fresh process per size,
Qt offscreen): open + first paint (document, scene, one `grab()`), resident memory, an edit + undo
with the canvas following, and frame times (pan and zoom at 100 %, the whole flow fitted). The
same flows in NodeGraphQt (`--peer-sizes`, 100 and 1,000 by default: it takes seconds per
thousand nodes) for the ratio; the script installs it into `.peers/nodegraphqt` (MIT, with its
Qt.py shim, MIT; `pip install --target`) and runs it on the suite's own PySide6.

The monitor rows (`--monitor`, on by default; `bench/_studio_monitor.py`, a fresh process): the
executions list with 10,000 executions (open every page, filter, scroll, one live refresh) next to
a naive `QTableWidget` filled item by item, and one execution's view folding a 1,000-event
journal; a `QTimer` heartbeat measures the longest event-loop stall against 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.steps import StepRegistry  # noqa: E402
from studio.model import FlowDocument, LiveValidation  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results" / "studio.json"
TARGETS = {"open_1000_s": 1.0, "open_5000_s": 1.0, "edit_undo_1000_ms": 50.0}
VIEW_TARGETS = {"paint_1000_s": 1.0, "paint_5000_s": 3.0, "view_edit_undo_1000_ms": 50.0}
PEERS = ROOT / ".peers" / "nodegraphqt"
PEER_WHEELS = ("NodeGraphQt==0.6.44", "Qt.py==2.0.7")


def make_flow(size: int) -> dict[str, Any]:
    """A structured flow of about `size` nodes."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    count = 0
    previous: str | None = None
    while count < size:
        n = len(nodes)
        node_id = f"n{n}"
        if n % 25 == 24:
            body = [{"id": f"{node_id}_b{k}", "type": "core.noop", "params": {"value": "{{ item }}"}} for k in range(4)]
            node = {"id": node_id, "type": "control.foreach", "params": {"items": [1, 2]}, "body": {"nodes": body}}
            count += 5
        elif n % 50 == 49:
            node = {"id": node_id, "type": "control.if", "params": {"condition": "{{ true }}"}}
            count += 1
        else:
            node = {"id": node_id, "type": "core.noop", "params": {"value": f"{{{{ steps.{previous}.output }}}}"}}
            count += 1
        node["ui"] = {"x": 0, "y": n * 80}
        nodes.append(node)
        if previous is not None:
            port = {"port": "true"} if nodes[-2]["type"] == "control.if" else {}
            edges.append({"from": previous, **port, "to": node_id})
        previous = node_id
    return {"schema": "rpa.flow/1", "name": f"bench {size}", "variables": {"total": 0}, "nodes": nodes, "edges": edges}


def best(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(size: int, repeats: int, registry: StepRegistry) -> dict[str, Any]:
    text = json.dumps(make_flow(size), indent=2)
    open_s = best(lambda: FlowDocument.from_text(text, registry=registry), max(3, repeats // 5))
    tracemalloc.start()
    doc = FlowDocument.from_text(text, registry=registry)
    memory_mib = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    nodes = len(doc.index)
    middle = f"n{len(doc.raw['nodes']) // 2}"
    counter = iter(range(10**9))

    def param_edit() -> None:
        doc.execute("set_param", node=middle, name="value", value=next(counter))
        doc.undo()

    def move() -> None:
        doc.execute("move_nodes", positions={middle: [next(counter), 0]})
        doc.undo()

    def add() -> None:
        doc.execute("add_node", type="core.noop", x=1, y=2)
        doc.undo()

    def remove() -> None:
        doc.execute("remove_nodes", ids=[middle])
        doc.undo()

    live = LiveValidation(doc)
    row = {
        "nodes": nodes,
        "open_s": round(open_s, 4),
        "memory_mib": round(memory_mib, 1),
        "save_s": round(best(doc.to_text, 3), 4),
        "param_edit_undo_ms": round(median_ms(param_edit, repeats), 3),
        "move_undo_ms": round(median_ms(move, repeats), 3),
        "add_undo_ms": round(median_ms(add, repeats), 3),
        "remove_undo_ms": round(median_ms(remove, repeats), 3),
        "validate_s": round(best(live.run, 2), 3),
    }
    assert not doc.dirty
    return row


def child(kind: str, size: int) -> dict[str, Any] | None:
    """One row of the view half, measured in a fresh process."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_THREAD_LIMIT": "1", "QT_PREFERRED_BINDING": "PySide6"}
    if kind == "nodegraphqt":
        env["PYTHONPATH"] = os.pathsep.join([str(PEERS), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_studio_canvas.py"), kind, str(size)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if done.returncode != 0:
        print(f"{kind} {size}: failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        return None
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def install_peer() -> bool:
    """NodeGraphQt into `.peers/nodegraphqt` (not the suite's venv); False when pip cannot."""
    if (PEERS / "NodeGraphQt").is_dir():
        return True
    print(f"installing {', '.join(PEER_WHEELS)} into {PEERS} (bench only, not a dependency)")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(PEERS), *PEER_WHEELS]
    if subprocess.run(command, check=False).returncode != 0:
        print(f"could not install NodeGraphQt: run `{' '.join(command)}` by hand, or pass --peer-sizes ''")
        return False
    return True


def views(sizes: list[int], peer_sizes: list[int]) -> dict[str, Any]:
    """The canvas at each size, NodeGraphQt at `peer_sizes`, with the ratios."""
    canvas = [row for size in sizes if (row := child("canvas", size)) is not None]
    peer = (
        [row for size in peer_sizes if (row := child("nodegraphqt", size)) is not None]
        if (peer_sizes and install_peer())
        else []
    )
    columns = ["nodes", "items", "open_paint_s", "rss_mib", "move_undo_ms", "add_undo_ms", "remove_undo_ms"]
    columns += ["pan_frame_ms", "zoom_frame_ms", "overview_frame_ms"]
    for title, rows in (("canvas (QGraphicsScene over the model)", canvas), ("NodeGraphQt 0.6.44", peer)):
        print(title)
        print(" | ".join(f"{c:>17}" for c in columns))
        for row in rows:
            print(" | ".join(f"{row.get(c, ''):>17}" for c in columns))
    ratios = []
    for row in peer:
        mine = next((r for r in canvas if abs(r["nodes"] - row["nodes"]) <= 5), None)
        if mine is not None:
            ratio = {c: round(row[c] / mine[c], 1) if mine[c] else None for c in columns[2:]}
            ratios.append({"nodes": row["nodes"], **ratio})
            print(f"NodeGraphQt / canvas at {row['nodes']} nodes: {ratio}")
    checks: dict[str, float] = {}
    for row in canvas:
        if abs(row["nodes"] - 1000) <= 5:
            checks["paint_1000_s"] = row["open_paint_s"]
            checks["view_edit_undo_1000_ms"] = max(row[k] for k in row if k.endswith("_undo_ms"))
        if abs(row["nodes"] - 5000) <= 5:
            checks["paint_5000_s"] = row["open_paint_s"]
    for key, value in checks.items():
        print(f"target {key}: {value} < {VIEW_TARGETS[key]} {'ok' if value < VIEW_TARGETS[key] else 'OVER'}")
    return {"canvas": canvas, "nodegraphqt": peer, "ratios": ratios, "targets": VIEW_TARGETS, "checks": checks}


def monitor(rows: int, events: int) -> dict[str, Any] | None:
    """The executions monitor (`bench/_studio_monitor.py`, a fresh process) against a naive
    `QTableWidget`, and one execution view streaming `events` journal events."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_THREAD_LIMIT": "1"}
    command = [sys.executable, str(ROOT / "bench" / "_studio_monitor.py"), "--rows", str(rows), "--events", str(events)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        print(f"monitor: failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    columns = ["rows", "open_s", "filter_s", "refresh_s", "scroll_cpu_ms", "scroll_worst_cpu_ms", "max_stall_ms"]
    columns.append("max_busy_ms")
    print(f"executions monitor, {rows} executions")
    print(" | ".join(f"{c:>28}" for c in ["", *columns]))
    for row in result["list"]:
        print(" | ".join(f"{row.get(c)!s:>28}" for c in ["what", *columns]))
    mine, naive = result["list"]
    ratio = {c: round(naive[c] / mine[c], 1) for c in columns[1:] if naive.get(c) and mine.get(c)}
    result["ratio_naive_over_monitor"] = ratio
    print(f"naive QTableWidget / monitor: {ratio}")
    stream = result["stream"]
    print(
        f"execution view: {stream['events']} events over {stream['nodes']} nodes folded in {stream['all_s']} s "
        f"(canvas ready in {stream['canvas_s']} s), {stream['colour_changes']} colour changes, "
        f"max stall {stream['max_stall_ms']} ms (UI thread busy {stream['max_busy_ms']} ms)"
    )
    target = result["stall_target_ms"]
    for name, row in (("monitor", mine), ("execution view", stream)):
        stall, busy = row["max_stall_ms"], row["max_busy_ms"]
        verdict = "ok" if stall < target else ("OVER (busy ok: a loaded machine)" if busy < target else "OVER")
        print(f"target max event-loop stall, {name}: {stall} ms (busy {busy} ms) < {target} ms {verdict}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000", help="flow sizes in nodes (comma-separated)")
    parser.add_argument("--repeats", type=int, default=20, help="runs of each edit (median) and open (best of)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    parser.add_argument("--views", action=argparse.BooleanOptionalAction, default=True, help="the canvas half")
    parser.add_argument("--peer-sizes", default="100,1000", help="sizes for NodeGraphQt ('' for none)")
    parser.add_argument("--monitor", action=argparse.BooleanOptionalAction, default=True, help="the monitor rows")
    parser.add_argument("--monitor-rows", type=int, default=10_000, help="executions in the monitor's list")
    parser.add_argument("--stream-events", type=int, default=1000, help="journal events streamed to one view")
    args = parser.parse_args()
    registry = StepRegistry.default()
    rows = [measure(int(size), args.repeats, registry) for size in args.sizes.split(",")]
    columns = list(rows[0])
    print(" | ".join(f"{c:>18}" for c in columns))
    for row in rows:
        print(" | ".join(f"{row[c]:>18}" for c in columns))
    by_size = {row["nodes"]: row for row in rows}
    checks = {}
    for size in (1000, 5000):
        match = next((r for n, r in by_size.items() if abs(n - size) <= 5), None)
        if match is not None:
            checks[f"open_{size}_s"] = match["open_s"]
            if size == 1000:
                checks["edit_undo_1000_ms"] = max(match[k] for k in match if k.endswith("_undo_ms"))
    for key, value in checks.items():
        verdict = "ok" if value < TARGETS[key] else "OVER"
        print(f"target {key}: {value} < {TARGETS[key]} {verdict}")
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rows": rows,
        "targets": TARGETS,
        "checks": checks,
    }
    if args.views:
        sizes = [int(size) for size in args.sizes.split(",")]
        result["views"] = views(sizes, [int(size) for size in args.peer_sizes.split(",") if size])
    if args.monitor:
        result["monitor"] = monitor(args.monitor_rows, args.stream_events) or {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
