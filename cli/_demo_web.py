"""The demo's browser part: a robot enters an invoice in a web app and keeps screenshots.

`rpa demo` serves Ledger (`cli._demo_web_app`) on loopback, stores the robot's sign-in as a
vault credential through the API (its password is random and never printed), and runs
`resources/flows/demo-web/enter-invoice.json` on an agent: the invoice PDF is read, the browser
signs in, enters the invoice line by line, saves it and reads the reference back; three
screenshots become the execution's artifacts, listed from `GET /artifacts?execution_id=…`.

When no agent can drive a browser (no Chromium, or no Playwright), the row says what to install
instead of running a flow that no agent would take.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from cli._demo_web_app import LedgerApp
from cli.supervise import LocalAgent, LocalOrchestrator, new_password, wait_for

__all__ = ["BROWSER_MISSING", "WEB_FLOW", "browser_missing", "run_web_invoice", "summarise"]

WEB_FLOW = Path(__file__).resolve().parents[1] / "resources" / "flows" / "demo-web" / "enter-invoice.json"
TITLE = "Invoice in a web app"
CREDENTIAL = "ledger"
USER = "robot"
BROWSER_MISSING = (
    "no agent can drive a browser: install Chromium (as root: apt-get install chromium, or make setup) "
    "and the browser extra (pip install 'rpa-suite[browser]'), then run the demo again"
)
Row = tuple[str, str, str, str, str]
Watch = Callable[[Console, LocalOrchestrator, str], str]


def browser_missing(agents: list[dict[str, Any]]) -> str | None:
    """What to install when none of `agents` (as `GET /agents/{id}` returns them) has `browser`."""
    if any("browser" in (agent.get("capabilities") or []) for agent in agents):
        return None
    return BROWSER_MISSING


def run_web_invoice(
    console: Console,
    orchestrator: LocalOrchestrator,
    agents: list[LocalAgent],
    invoice: Path,
    watch: Watch,
) -> Row:
    """Run the web-app demo and return its summary row.

    Args:
        console: where the progress and the artifact list are printed.
        orchestrator: the demo's orchestrator, its client logged in as the owner.
        agents: the demo's agents (online).
        invoice: the invoice PDF the flow reads.
        watch: `(console, orchestrator, execution_id) -> final state`, streaming the journal.
    """
    console.print("[bold]▶ Invoice in a web app[/] (PDF read, browser signs in with a vault credential, saves)")
    names = {agent.agent_id: agent.name for agent in agents}
    missing = browser_missing([orchestrator.client.request("GET", f"/agents/{a.agent_id}") for a in agents])
    if missing:
        console.print(f"  [yellow]skipped:[/] {missing}", highlight=False)
        return TITLE, "skipped", "-", "-", missing
    password = new_password()
    with LedgerApp({USER: password}) as app:
        orchestrator.client.request(
            "POST",
            "/credentials",
            json={
                "name": CREDENTIAL,
                "kind": "username_password",
                "value": {"username": USER, "password": password},
                "description": "The robot's sign-in to the Ledger demo web app.",
            },
        )
        workflow = orchestrator.publish(json.loads(WEB_FLOW.read_text(encoding="utf-8")))
        console.print(f"  Ledger web app on {app.url}; credential '{CREDENTIAL}' stored in the vault", highlight=False)
        started = time.perf_counter()
        execution_id = orchestrator.start_execution(workflow, inputs={"invoice": str(invoice), "app_url": app.url})
        state = watch(console, orchestrator, execution_id)
        elapsed = time.perf_counter() - started
        saved = [i.reference for i in app.invoices]
    execution = orchestrator.client.request("GET", f"/executions/{execution_id}")
    outputs = execution.get("outputs") or {}
    expected = len(outputs.get("screenshots") or [])
    screenshots = _artifacts(orchestrator, execution_id, expected) if state == "succeeded" and expected else []
    for artifact in screenshots:
        size, kind = f"{artifact['size']:,} bytes", artifact["content_type"]
        console.print(f"  artifact {artifact['name']}: {size}, {kind}, id {artifact['id']}", highlight=False)
    status, note = summarise(state, outputs, execution.get("error"), saved, len(screenshots))
    return TITLE, status, names.get(execution.get("agent_id") or "", "?"), f"{elapsed:.2f}s", note


def summarise(
    state: str, outputs: dict[str, Any], error: dict[str, Any] | None, saved: list[str], screenshots: int
) -> tuple[str, str]:
    """The row's status and note from what the flow returned and what the web app saved.

    Args:
        state: the execution's final state.
        outputs: the flow's outputs (`invoice_number`, `reference`, …).
        error: the execution's error, when it failed.
        saved: the references of the invoices the web app saved, oldest first.
        screenshots: how many screenshots the orchestrator lists as the execution's artifacts.
    """
    if state != "succeeded":
        return state or "failed", f"the flow ended {state}: {(error or {}).get('message', 'see the journal above')}"
    reference = outputs.get("reference")
    # What the flow read back must be what the app really saved, and every screenshot kept.
    if not reference or saved != [reference] or screenshots != len(outputs.get("screenshots") or ()):
        return "failed", f"the flow returned reference {reference}; the web app saved {saved or 'nothing'}"
    note = f"invoice {outputs.get('invoice_number')} entered in the web app as {reference}, "
    return "succeeded", note + f"{screenshots} screenshots kept as artifacts"


def _artifacts(orchestrator: LocalOrchestrator, execution_id: str, expected: int) -> list[dict[str, Any]]:
    """The execution's artifacts, once the agent has uploaded the `expected` ones (it does so as
    the execution ends, so they may arrive just after its final state)."""

    def listed() -> list[dict[str, Any]] | None:
        page = orchestrator.client.request("GET", "/artifacts", params={"execution_id": execution_id})
        items: list[dict[str, Any]] = page["items"]
        # Names are "<node>/<file>"; the files are numbered in the order they were taken.
        return sorted(items, key=lambda a: str(a["name"]).rsplit("/", 1)[-1]) if len(items) >= expected else None

    result: list[dict[str, Any]] = wait_for(listed, 30, "the screenshots to be uploaded", interval=0.1)
    return result
