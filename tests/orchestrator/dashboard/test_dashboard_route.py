"""GET /dashboard over real execution rows, on SQLite and PostgreSQL; the SLA target of a workflow."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.orchestrator.dashboard._rows import seed

API = "/api/v1"


@pytest.fixture
async def seeded(app: FastAPI, client: httpx.AsyncClient, tenant) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return await seed(app, client, await tenant(), await tenant())


def _params(since: datetime, until: datetime, **more: str) -> dict[str, str]:
    return {"since": since.isoformat(), "until": until.isoformat(), **more}


async def test_the_dashboard_counts_states_per_bucket_and_workflow_figures_against_the_sla(
    client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    first: datetime = seeded["first"]
    since, until = first - timedelta(hours=1), seeded["now"] + timedelta(minutes=1)
    answer = await client.get(
        f"{API}/dashboard", headers=seeded["owner"].headers, params=_params(since, until, bucket="hour")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 8
    assert body["states"] == {"succeeded": 4, "failed": 1, "cancelled": 1, "running": 1, "queued": 1}
    starts = [datetime.fromisoformat(b["start"]) for b in body["buckets"]]
    assert starts[0] == first - timedelta(hours=1)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))
    by_start = {datetime.fromisoformat(b["start"]): b["counts"] for b in body["buckets"]}
    assert by_start[first] == {"succeeded": 4, "failed": 1, "cancelled": 1}
    assert by_start[first + timedelta(hours=2)] == {"running": 1}
    assert by_start[first + timedelta(hours=1)] == {}

    invoices, reports = body["workflows"]
    assert invoices["workflow_id"] == seeded["invoices"]
    assert invoices["name"] == "Invoices"
    assert (invoices["count"], invoices["succeeded"], invoices["failed"], invoices["cancelled"]) == (6, 4, 1, 1)
    assert invoices["success_rate"] == pytest.approx(0.8)
    assert invoices["p50_seconds"] == pytest.approx(30, abs=0.01)  # of 10, 20, 30, 50, 100
    assert invoices["p95_seconds"] == pytest.approx(100, abs=0.01)
    assert (invoices["sla_seconds"], invoices["breached"]) == (60, 1)
    assert (reports["count"], reports["active"], reports["success_rate"], reports["p50_seconds"]) == (2, 2, None, None)
    assert (reports["sla_seconds"], reports["breached"]) == (None, 0)

    assert body["agents"] == {"total": 1, "online": 0, "busy": 0, "unresponsive": 0, "offline": 1}
    queue = body["queue"]
    assert queue["depth"] == 1
    assert 300 <= queue["oldest_wait_seconds"] < 400
    assert queue["p50_wait_seconds"] == pytest.approx(2, abs=0.01)  # waits 0 (the running one), 1..5 s
    assert queue["p95_wait_seconds"] == pytest.approx(5, abs=0.01)


async def test_day_buckets_and_the_defaults(client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    first: datetime = seeded["first"]
    day = first.replace(hour=0)
    answer = await client.get(
        f"{API}/dashboard",
        headers=seeded["owner"].headers,
        params=_params(day - timedelta(days=2), day + timedelta(days=2), bucket="day"),
    )
    body = answer.json()
    assert [datetime.fromisoformat(b["start"]) for b in body["buckets"]] == [
        day + timedelta(days=n) for n in range(-2, 2)
    ]
    assert sum(sum(b["counts"].values()) for b in body["buckets"]) == body["total"]
    assert body["total"] == 9  # the one three hours before the first hour is within these days
    default = (await client.get(f"{API}/dashboard", headers=seeded["owner"].headers)).json()
    assert default["bucket"] == "hour"
    assert len(default["buckets"]) in (24, 25)
    assert default["total"] == 9  # the last 24 hours hold every row of the organisation


async def test_bad_periods_are_refused_and_the_route_needs_execution_reading(
    client: httpx.AsyncClient, seeded: dict[str, Any], tenant
) -> None:  # type: ignore[no-untyped-def]
    owner = seeded["owner"]
    now: datetime = seeded["now"]
    backwards = await client.get(
        f"{API}/dashboard", headers=owner.headers, params=_params(now, now - timedelta(hours=1))
    )
    assert backwards.status_code == 422
    assert "since must be before until" in backwards.text
    too_many = await client.get(
        f"{API}/dashboard", headers=owner.headers, params=_params(now - timedelta(days=60), now, bucket="hour")
    )
    assert too_many.status_code == 422
    assert "bucket" in too_many.text
    assert (await client.get(f"{API}/dashboard", params={"bucket": "week"}, headers=owner.headers)).status_code == 422
    early = await client.get(f"{API}/dashboard", params={"until": "0001-01-01T00:00:00Z"}, headers=owner.headers)
    assert early.status_code == 422
    assert "too early" in early.text
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    assert (await client.get(f"{API}/dashboard", headers=viewer.headers)).json()["total"] == 9
    role = await client.post(f"{API}/roles", headers=owner.headers, json={"name": "blind", "permissions": ["org:read"]})
    assert role.status_code == 201, role.text
    blind = await tenant(org_id=owner.org_id, role="viewer")
    moved = await client.patch(f"{API}/users/{blind.user_id}", headers=owner.headers, json={"role": "blind"})
    assert moved.status_code == 200, moved.text
    assert (await client.get(f"{API}/dashboard", headers=blind.headers)).status_code == 403
    assert (await client.get(f"{API}/dashboard")).status_code == 401


async def test_the_sla_target_is_set_shown_cleared_and_exported(
    client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    headers = seeded["owner"].headers
    url = f"{API}/workflows/{seeded['invoices']}"
    assert (await client.get(url, headers=headers)).json()["sla_seconds"] == 60
    listed = (await client.get(f"{API}/workflows", headers=headers, params={"q": "Invoices"})).json()["items"]
    assert listed[0]["sla_seconds"] == 60
    assert (await client.patch(url, headers=headers, json={"sla_seconds": 0})).status_code == 422
    exported = (await client.get(f"{url}/export", headers=headers)).json()
    assert exported["workflows"][0]["sla_seconds"] == 60
    cleared = await client.patch(url, headers=headers, json={"sla_seconds": None})
    assert cleared.json()["sla_seconds"] is None
    exported["workflows"][0]["name"] = "Invoices copy"
    exported["root"] = "Invoices copy"
    imported = await client.post(f"{API}/workflows/import", headers=headers, json=exported)
    assert imported.status_code in (200, 201), imported.text
    copy_id = imported.json()["workflows"][0]["id"]
    assert (await client.get(f"{API}/workflows/{copy_id}", headers=headers)).json()["sla_seconds"] == 60
