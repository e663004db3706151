"""`rpa demo`: run the bundled demo flows end to end and print a summary.

1. *Order triage* runs in-process: CSV parsing, a loop with a branch, a retried step caught by
   a try, a sub-flow.
2. *Batch with checkpoints* runs in a child process with a durable journal; the child is
   killed with SIGKILL half-way, and the run is resumed from the journal: the summary shows how
   many steps had finished before the kill and that none of them ran again.
"""

from __future__ import annotations

import asyncio
import collections
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cli.supervise import LocalRun
from shared.engine import Engine, FileFlowLoader, MemoryJournal, SqliteJournal
from shared.errors import RpaError
from shared.flow import load_flow
from shared.steps import StepRegistry

DEMO_DIR = Path(__file__).resolve().parents[1] / "resources" / "flows" / "demo"


def run_demo(console: Console, flows_dir: Path | None = None) -> int:
    """Run the demos; return the process exit code (0 when every demo did what it should)."""
    folder = flows_dir or DEMO_DIR
    registry = StepRegistry.default()
    rows: list[tuple[str, str, str, str]] = []
    ok = True
    try:
        rows.append(_triage(console, folder, registry))
        rows.append(_crash_and_resume(console, folder, registry))
    except RpaError as exc:
        console.print(f"[red]demo failed:[/] {exc}", highlight=False)
        return 1
    table = Table(title="Demo summary")
    for column in ("demo", "status", "time", "what happened"):
        table.add_column(column)
    for name, status, elapsed, note in rows:
        ok = ok and status == "succeeded"
        style = "green" if status == "succeeded" else "red"
        table.add_row(name, f"[{style}]{status}[/]", elapsed, note)
    console.print(table)
    return 0 if ok else 1


def _triage(console: Console, folder: Path, registry: StepRegistry) -> tuple[str, str, str, str]:
    path = folder / "order-triage.json"
    flow = load_flow(path, registry=registry)
    loader = FileFlowLoader(folder, registry)
    loader.remember(flow, path)
    logs: list[str] = []
    engine = Engine(
        registry,
        loader=loader,
        artifacts_dir=tempfile.mkdtemp(prefix="rpa-demo-"),
        on_log=lambda _e, p, level, m: logs.append(f"{level} {p}: {m}"),
    )
    journal = MemoryJournal("demo-triage")
    console.print(f"[bold]▶ {flow.name}[/] — {flow.description}", highlight=False)
    started = time.perf_counter()
    result = asyncio.run(engine.run(flow, journal=journal))
    elapsed = time.perf_counter() - started
    counts = collections.Counter(e.type for e in journal.read())
    for line in logs:
        console.print(f"  {line}", highlight=False)
    console.print(f"  report: {result.outputs.get('report')}", highlight=False)
    note = (
        f"{counts['node.succeeded']} steps ok, {counts['node.skipped']} skipped, "
        f"{sum(1 for e in journal.read() if e.data.get('will_retry'))} retries, "
        f"flagged {', '.join(result.outputs.get('flagged') or []) or 'none'}"
    )
    return flow.name, result.status, f"{elapsed:.2f}s", note


def _crash_and_resume(console: Console, folder: Path, registry: StepRegistry) -> tuple[str, str, str, str]:
    path = folder / "batch-resume.json"
    flow = load_flow(path, registry=registry)
    items = int(flow.inputs["items"].default)
    workdir = Path(tempfile.mkdtemp(prefix="rpa-demo-"))
    journal_file = workdir / "journal.db"
    console.print(f"[bold]▶ {flow.name}[/] — {flow.description}", highlight=False)
    started = time.perf_counter()
    child = LocalRun(path, journal_file, workdir)
    child.start()
    try:
        finished_before = _wait_for_progress(journal_file, items // 2, child)
    finally:
        child.kill()  # the child has its own session: Ctrl-C here does not reach it
    console.print(f"  killed the run (SIGKILL) after {finished_before} of {items} items", highlight=False)

    ((execution_id, _done),) = SqliteJournal.executions(journal_file)
    journal = SqliteJournal(journal_file, execution_id)
    before = {e.path for e in journal.read() if e.type == "node.succeeded"}
    engine = Engine(registry, artifacts_dir=workdir / "artifacts")
    result = asyncio.run(engine.run(flow, journal=journal))
    succeeded = collections.Counter(e.path for e in journal.read() if e.type == "node.succeeded")
    journal.close()
    elapsed = time.perf_counter() - started
    twice = [p for p, n in succeeded.items() if n > 1]
    work_done = sum(1 for p in succeeded if p.endswith("/work"))
    console.print(
        f"  resumed: {work_done - len([p for p in before if p.endswith('/work')])} items ran after the "
        f"restart, {len(twice)} ran twice; processed={result.outputs.get('processed')}",
        highlight=False,
    )
    status = result.status if not twice and work_done == items else "failed"
    note = (
        f"killed after {finished_before}/{items} items, resumed from the journal; "
        f"{len(twice)} steps ran twice; outputs {result.outputs}"
    )
    return flow.name, status, f"{elapsed:.2f}s", note


def _wait_for_progress(journal_file: Path, target: int, child: LocalRun) -> int:
    """Poll the child's journal until `target` loop items have finished."""
    import sqlite3

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not child.running:
            raise RpaError(f"the demo run ended before it could be interrupted; see {child.log}")
        if journal_file.exists():
            try:
                db = sqlite3.connect(f"file:{journal_file}?mode=ro", uri=True)
                try:
                    (count,) = db.execute("SELECT COUNT(*) FROM events WHERE type = 'iteration.finished'").fetchone()
                finally:
                    db.close()
            except sqlite3.OperationalError:
                count = 0
            if count >= target:
                return int(count)
        time.sleep(0.02)
    raise RpaError("the demo run made no progress within 30 s")
