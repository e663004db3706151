"""Two orchestrator processes on one PostgreSQL: webhook, schedule and event triggers each start
exactly one execution per event; an orchestrator killed with SIGKILL while webhook calls arrive,
then restarted, loses none and doubles none (executions counted per event key)."""

from __future__ import annotations

import collections
import threading
import time
import uuid
from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx
import pytest

from cli.supervise import LocalOrchestrator
from tests.orchestrator.triggers._two_processes import EMAIL, FLOW, PASSWORD, database_url, pair

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["database_url", "pair"]  # fixtures used here

API = "/api/v1"


def _executions(server: LocalOrchestrator, trigger_type: str) -> list[dict[str, Any]]:
    page = server.client.request("GET", "/executions", params={"trigger": trigger_type, "limit": 500})
    items: list[dict[str, Any]] = page["items"]
    return items


def _per_key(executions: list[dict[str, Any]]) -> collections.Counter[str]:
    return collections.Counter(e["trigger"]["key"] for e in executions)


def _trigger(server: LocalOrchestrator, workflow_id: str, kind: str, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = server.client.request(
        "POST",
        f"/workflows/{workflow_id}/triggers",
        json={"name": kind, "kind": kind, "inputs": {"customer": "c"}, **body},
    )
    return created


def test_webhook_schedule_and_event_triggers_fire_once_per_event_across_two_processes(
    pair: tuple[LocalOrchestrator, LocalOrchestrator],
) -> None:
    first, second = pair
    workflow_id = first.publish(FLOW)
    hook = _trigger(first, workflow_id, "webhook")
    _trigger(first, workflow_id, "event", config={"name": "ping"})
    schedule = _trigger(first, workflow_id, "schedule", config={"every_s": 1, "overlap": "allow", "catch_up": "none"})

    keys = [f"delivery-{n}" for n in range(20)]
    event_ids = [f"ping-{n}" for n in range(10)]

    def send(server: LocalOrchestrator) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for key in keys:
                assert http.post(hook["url"], json={}, headers={"Idempotency-Key": key}).status_code == 202
            for event_id in event_ids:
                server.client.request("POST", "/events", json={"name": "ping", "id": event_id})

    senders = [threading.Thread(target=send, args=(server,)) for server in (first, second)]
    for sender in senders:
        sender.start()
    time.sleep(4)
    for sender in senders:
        sender.join(60)

    assert _per_key(_executions(second, "webhook")) == {f"idem:{k}": 1 for k in keys}
    assert _per_key(_executions(first, "event")) == {f"ping:{e}": 1 for e in event_ids}
    scheduled = _per_key(_executions(second, "schedule"))
    assert len(scheduled) >= 3
    assert set(scheduled.values()) == {1}
    dues = sorted(datetime.fromisoformat(k) for k in scheduled)
    assert all((b - a).total_seconds() == 1 for a, b in pairwise(dues))  # none missed
    holder = first.client.request("GET", f"/triggers/{schedule['id']}")["state"]["running_in"]
    assert holder is not None


def test_a_killed_orchestrator_loses_and_doubles_no_webhook_call(
    pair: tuple[LocalOrchestrator, LocalOrchestrator],
) -> None:
    first, second = pair
    workflow_id = first.publish(FLOW)
    hook = _trigger(first, workflow_id, "webhook")
    accepted: dict[str, str] = {}
    keys = [f"call-{n}-{uuid.uuid4().hex[:6]}" for n in range(150)]

    def deliver(key: str) -> None:
        # A sender that retries with the same key on another replica when a call gets no answer.
        for server in (first, second, second):
            try:
                answer = httpx.post(server.url + hook["url"], json={}, headers={"Idempotency-Key": key}, timeout=10)
            except httpx.HTTPError:
                continue
            if answer.status_code == 202:
                accepted[key] = answer.json()["execution_id"]
                return

    def killer() -> None:
        time.sleep(0.5)
        first.kill()

    threading.Thread(target=killer).start()
    for key in keys:
        deliver(key)
    first.start()
    first.client.login(EMAIL, PASSWORD)

    assert set(accepted) == set(keys)
    executions = _executions(first, "webhook")
    per_key = _per_key(executions)
    assert per_key == {f"idem:{k}": 1 for k in keys}  # none lost, none doubled
    stored = {e["trigger"]["key"]: e["id"] for e in executions}
    assert all(stored[f"idem:{k}"] == accepted[k] for k in keys)  # every 202 names the stored one
