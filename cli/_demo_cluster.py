"""`rpa demo`: the real shape, end to end, on this machine.

An orchestrator on embedded SQLite and two agents start as child processes; the demo flows are
published and started through the API, and their journals are streamed back live:

1. *Order triage*: CSV parsing, a loop with a branch, a retried step caught by a try, and a
   sub-flow (*report*) that travels with the job.
2. *Batch with checkpoints*: the agent running it is killed with SIGKILL half-way; the other
   agent resumes it from the stored journal. The summary shows that no finished step ran again.
3. A burst of executions shared by both agents.
4. *Invoice to Excel*: an invoice PDF read by its labels and its table, a workbook written.
5. *Invoice in a web app*: the same invoice entered in a local web app through the browser,
   signed in with a vault credential; screenshots kept as artifacts (`cli/_demo_web.py`).
6. *Triggers*: a webhook answered with the outputs (and its repeat de-duplicated), a schedule
   fired every two seconds, then paused (`cli/_demo_triggers.py`).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cli._demo_triggers import run_triggers
from cli._demo_web import run_web_invoice
from cli._remote_commands import describe
from cli.supervise import LocalAgent, LocalOrchestrator, SupervisionError, new_password, wait_for
from shared.client import ApiError
from shared.states import TERMINAL_STATES

DEMO_DIR = Path(__file__).resolve().parents[1] / "resources" / "flows" / "demo"
DOCUMENTS_FLOW = DEMO_DIR.parent / "demo-documents" / "invoice-to-excel.json"
INVOICE = DEMO_DIR.parents[1] / "templates" / "assets" / "invoice.pdf"
Row = tuple[str, str, str, str, str]


def run_cluster_demo(console: Console, flows_dir: Path | None = None) -> int:
    """Run the demos; return the exit code (0 when every demo did what it should)."""
    folder = flows_dir or DEMO_DIR
    root = Path(tempfile.mkdtemp(prefix="rpa-demo-"))
    orchestrator = LocalOrchestrator(
        root / "orchestrator",
        log=root / "orchestrator.log",
        env={"RPA_AGENT_GRACE_S": "2", "RPA_HEARTBEAT_INTERVAL_S": "1", "HOME": str(root)},
    )
    agents: list[LocalAgent] = []
    rows: list[Row] = []
    try:
        console.print(f"[bold]Starting[/] an orchestrator (SQLite in {root}) and two agents …", highlight=False)
        started = time.perf_counter()
        orchestrator.start()
        orchestrator.create_owner("demo@rpa.localhost", new_password(), org="Demo")
        for name in ("robot-1", "robot-2"):
            agent = LocalAgent(
                orchestrator, root / name, name, max_jobs=2, env={"HOME": str(root), "RPA_AGENT_RECONNECT_MAX_S": "2"}
            )
            agents.append(agent)
            agent.start()
        for agent in agents:
            agent.wait_online(orchestrator.client)
        console.print(f"  ready in {time.perf_counter() - started:.1f} s: {orchestrator.url}", highlight=False)
        ids = {
            path.stem: orchestrator.publish(
                json.loads(path.read_text(encoding="utf-8")), name="report" if path.stem == "report" else None
            )
            for path in sorted(folder.glob("*.json"))
        }
        names = {agent.agent_id: agent.name for agent in agents}
        rows.append(_triage(console, orchestrator, ids["order-triage"], names))
        rows.append(_crash_and_resume(console, orchestrator, ids["batch-resume"], agents))
        rows.append(_burst(console, orchestrator, ids["order-triage"], names))
        documents = orchestrator.publish(json.loads(DOCUMENTS_FLOW.read_text(encoding="utf-8")))
        rows.append(_documents(console, orchestrator, documents, names, root / "invoice-lines.xlsx"))
        rows.append(run_web_invoice(console, orchestrator, agents, INVOICE, _watch))
        rows.append(run_triggers(console, orchestrator, ids["order-triage"], names))
    except (SupervisionError, ApiError, KeyError) as error:
        console.print(f"[red]demo failed:[/] {error}", highlight=False)
        console.print(f"  logs in {root}", highlight=False)
        return 1
    finally:
        for agent in agents:
            agent.stop()
        orchestrator.stop()
    table = Table(title="Demo summary")
    for column in ("demo", "status", "agents", "time", "what happened"):
        table.add_column(column)
    ok = True
    for name, status, where, elapsed, note in rows:
        # A part skipped for a missing system package says what to install; it fails nothing.
        ok = ok and status in ("succeeded", "skipped")
        style = {"succeeded": "green", "skipped": "yellow"}.get(status, "red")
        table.add_row(name, f"[{style}]{status}[/]", where, elapsed, note)
    console.print(table)
    return 0 if ok else 1


def _watch(console: Console, orchestrator: LocalOrchestrator, execution_id: str, *, quiet: bool = False) -> str:
    state = ""
    for kind, data in orchestrator.client.stream(execution_id, follow=True):
        if kind == "journal" and not quiet and data["type"] in ("log", "node.failed", "execution.finished"):
            console.print(f"  {describe(data)}", highlight=False)
        elif kind == "end":
            state = str(data.get("state", ""))
    return state


def _events(orchestrator: LocalOrchestrator, execution_id: str) -> list[dict[str, Any]]:
    return orchestrator.events(execution_id)


def _triage(console: Console, orchestrator: LocalOrchestrator, workflow: str, names: dict[str, str]) -> Row:
    console.print("[bold]▶ Order triage[/] (a loop, a branch, a retried step in a try, a sub-flow)")
    started = time.perf_counter()
    execution_id = orchestrator.start_execution(workflow)
    state = _watch(console, orchestrator, execution_id)
    elapsed = time.perf_counter() - started
    execution = orchestrator.client.request("GET", f"/executions/{execution_id}")
    counts = Counter(e["type"] for e in _events(orchestrator, execution_id))
    retries = sum(1 for e in _events(orchestrator, execution_id) if (e.get("data") or {}).get("will_retry"))
    note = (
        f"{counts['node.succeeded']} steps ok, {counts['node.skipped']} skipped, {retries} retries; "
        f"report: {(execution.get('outputs') or {}).get('report', '')}"
    )
    return "Order triage", state, names.get(execution.get("agent_id") or "", "?"), f"{elapsed:.2f}s", note


def _documents(
    console: Console, orchestrator: LocalOrchestrator, workflow: str, names: dict[str, str], workbook: Path
) -> Row:
    console.print("[bold]▶ Invoice to Excel[/] (a PDF read by its labels and table, a workbook written)")
    started = time.perf_counter()
    inputs = {"invoice": str(INVOICE), "workbook": str(workbook)}
    execution_id = orchestrator.start_execution(workflow, inputs=inputs)
    state = _watch(console, orchestrator, execution_id)
    elapsed = time.perf_counter() - started
    execution = orchestrator.client.request("GET", f"/executions/{execution_id}")
    outputs = execution.get("outputs") or {}
    note = (
        f"invoice {outputs.get('invoice_number')}, total {outputs.get('total')}: "
        f"{outputs.get('lines_written')} lines written to {workbook.name}"
    )
    return "Invoice to Excel", state, names.get(execution.get("agent_id") or "", "?"), f"{elapsed:.2f}s", note


def _crash_and_resume(
    console: Console, orchestrator: LocalOrchestrator, workflow: str, agents: list[LocalAgent]
) -> Row:
    items = 12
    console.print(f"[bold]▶ Batch with checkpoints[/] ({items} items; its agent is killed half-way)")
    started = time.perf_counter()
    execution_id = orchestrator.start_execution(workflow, inputs={"items": items, "pause_s": 0.25})
    holder = wait_for(
        lambda: orchestrator.client.request("GET", f"/executions/{execution_id}").get("agent_id"),
        30,
        "the batch to be dispatched",
    )
    wait_for(
        lambda: sum(e["type"] == "iteration.finished" for e in _events(orchestrator, execution_id)) >= items // 2,
        60,
        "half of the batch",
        interval=0.05,
    )
    victim = next(agent for agent in agents if agent.agent_id == holder)
    done_before = sum(e["type"] == "iteration.finished" for e in _events(orchestrator, execution_id))
    victim.kill()
    killed_at = time.perf_counter()
    console.print(f"  killed {victim.name} (SIGKILL) after {done_before} of {items} items", highlight=False)
    resumed: dict[str, float] = {}

    def note_resume() -> None:
        seen = len(_events(orchestrator, execution_id))
        while "at" not in resumed:
            events = _events(orchestrator, execution_id)
            if any(e["type"] == "node.started" for e in events[seen:]):
                resumed["at"] = time.perf_counter()
            time.sleep(0.05)

    watcher = threading.Thread(target=note_resume, daemon=True)
    watcher.start()
    state = _watch(console, orchestrator, execution_id)
    watcher.join(5)
    elapsed = time.perf_counter() - started
    execution = orchestrator.client.request("GET", f"/executions/{execution_id}")
    events = _events(orchestrator, execution_id)
    succeeded = Counter(e["path"] for e in events if e["type"] == "node.succeeded")
    twice = [path for path, n in succeeded.items() if n > 1]
    rescuer = next((a.name for a in agents if a.agent_id == execution.get("agent_id")), "?")
    gap = resumed.get("at", killed_at) - killed_at
    note = (
        f"killed after {done_before}/{items} items; {rescuer} resumed it {gap:.1f} s later (attempt "
        f"{execution['attempt']}); {len(twice)} steps ran twice; outputs {execution.get('outputs')}"
    )
    status = state if not twice and execution.get("outputs", {}).get("processed") == items else "failed"
    return "Batch with checkpoints", status, f"{victim.name} → {rescuer}", f"{elapsed:.2f}s", note


def _burst(console: Console, orchestrator: LocalOrchestrator, workflow: str, names: dict[str, str]) -> Row:
    count = 20
    console.print(f"[bold]▶ Burst[/]: {count} executions of Order triage, shared by the online agents")
    started = time.perf_counter()
    ids = [orchestrator.start_execution(workflow) for _ in range(count)]

    def all_done() -> list[dict[str, Any]] | None:
        rows = [orchestrator.client.request("GET", f"/executions/{i}") for i in ids]
        return rows if all(r["state"] in TERMINAL_STATES for r in rows) else None

    rows = wait_for(all_done, 120, "the burst to finish", interval=0.2)
    elapsed = time.perf_counter() - started
    states = Counter(r["state"] for r in rows)
    by_agent = Counter(names.get(r.get("agent_id") or "", "?") for r in rows)
    status = "succeeded" if states == Counter({"succeeded": count}) else "failed"
    note = f"{states['succeeded']}/{count} succeeded, {count / elapsed:.1f} executions/s end to end; " + ", ".join(
        f"{name}: {n}" for name, n in sorted(by_agent.items())
    )
    return "Burst", status, ", ".join(sorted(by_agent)), f"{elapsed:.2f}s", note
