"""`rpa demo`, part 6: triggers start executions without anyone asking.

A webhook trigger on *Order triage* answers its caller with the execution's outputs (response
mode `wait`); the same call sent again with its `Idempotency-Key` is answered with the first
execution, not a second one. A schedule trigger fires every two seconds until it is paused.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console

from cli.supervise import LocalOrchestrator, SupervisionError, wait_for
from shared.client import API, ApiError

Row = tuple[str, str, str, str, str]
CSV = "id,customer,region,amount\nW-1,Wayne,west,2100.00\nW-2,Kent,west,80.00"
FIRES = 2  # schedule fires to see before pausing


def run_triggers(console: Console, orchestrator: LocalOrchestrator, workflow: str, names: dict[str, str]) -> Row:
    """Fire a webhook twice with one idempotency key, then let a schedule fire and pause it."""
    console.print("[bold]▶ Triggers[/]: a webhook answered with the outputs, a schedule every 2 s")
    started = time.perf_counter()
    client = orchestrator.client
    hook = client.request(
        "POST",
        f"/workflows/{workflow}/triggers",
        json={
            "name": "orders webhook",
            "kind": "webhook",
            "config": {"respond": "wait", "wait_s": 60},
            "inputs": {"orders_csv": "{{ event.body.csv }}"},
        },
    )
    first = _call(orchestrator, str(hook["url"]), key="order-batch-7")
    again = _call(orchestrator, str(hook["url"]), key="order-batch-7")
    replayed = again["headers"].get("idempotent-replayed") == "true"
    same = first["body"].get("execution_id") == again["body"].get("execution_id")
    flagged = (first["body"].get("outputs") or {}).get("flagged")
    console.print(
        f"  webhook: {first['status']} {first['body'].get('state')}, flagged {', '.join(flagged or []) or 'none'}; "
        f"the repeated call "
        f"{'replayed the same execution' if replayed and same else 'started another one'}",
        highlight=False,
    )

    schedule = client.request(
        "POST",
        f"/workflows/{workflow}/triggers",
        json={"name": "every 2 s", "kind": "schedule", "config": {"every_s": 2, "catch_up": "none"}},
    )
    fired = wait_for(lambda: _fired(orchestrator, str(schedule["id"])), 30, f"the schedule to fire {FIRES} times")
    client.request("POST", f"/triggers/{schedule['id']}/pause")
    console.print(f"  schedule: fired {fired} times, then paused", highlight=False)
    executions = client.request("GET", "/executions", params={"trigger": "schedule", "workflow_id": workflow})
    runs = executions["items"]
    agents = sorted({names.get(r.get("agent_id") or "", "?") for r in runs if r.get("agent_id")})
    elapsed = time.perf_counter() - started
    ok = first["status"] == 200 and first["body"].get("state") == "succeeded" and replayed and same
    note = (
        f"webhook: 2 calls, 1 execution (flagged {', '.join(flagged or []) or 'none'}); "
        f"schedule: {fired} executions every 2 s, then paused"
    )
    return "Triggers", "succeeded" if ok else "failed", ", ".join(agents) or "?", f"{elapsed:.2f}s", note


def _call(orchestrator: LocalOrchestrator, url: str, *, key: str) -> dict[str, Any]:
    """POST to the webhook as an outside caller would (no API session: the URL is the secret)."""
    path = url[url.index(API) :] if API in url else url
    body = json.dumps({"csv": CSV}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    request = urllib.request.Request(f"{orchestrator.url}{path}", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            answer = {k.lower(): v for k, v in response.headers.items()}
            return {"status": response.status, "headers": answer, "body": json.loads(response.read())}
    except urllib.error.HTTPError as exc:
        raise ApiError(exc.code, "webhook_refused", exc.read().decode(errors="replace")[:200]) from None
    except OSError as exc:
        raise SupervisionError(f"the webhook call failed: {type(exc).__name__}") from None


def _fired(orchestrator: LocalOrchestrator, trigger_id: str) -> int | None:
    state = orchestrator.client.request("GET", f"/triggers/{trigger_id}")["state"]
    count = int(state["fire_count"])
    return count if count >= FIRES else None
