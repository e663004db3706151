"""Execution and agent rows with chosen timestamps, inserted as they are (the dashboard's tests)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from orchestrator.db.base import utcnow
from orchestrator.models.agents import Agent
from orchestrator.models.executions import Execution
from tests.orchestrator._execution_helpers import make_workflow

API = "/api/v1"


def row(org_id: uuid.UUID, workflow_id: uuid.UUID, state: str, created: datetime, **times: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "workflow_id": workflow_id,
        "version_id": uuid.uuid4(),
        "version_number": 1,
        "workflow_name": "old name",
        "state": state,
        "priority": 1,
        "inputs": {},
        "trigger": {"type": "manual", "by": None},
        "trigger_type": "manual",
        "attempt": 1,
        "last_seq": 0,
        "created_at": created,
        "updated_at": created,
        "queued_at": created,
        "assigned_at": None,
        "started_at": None,
        "finished_at": None,
        **times,
    }


def ran(
    org_id: uuid.UUID, workflow_id: uuid.UUID, state: str, at: datetime, wait: float, took: float
) -> dict[str, Any]:
    """An execution created at `at` that waited `wait` s for an agent and ran `took` s."""
    assigned = at + timedelta(seconds=wait)
    return row(
        org_id,
        workflow_id,
        state,
        at,
        assigned_at=assigned,
        started_at=assigned,
        finished_at=assigned + timedelta(seconds=took),
    )


async def insert_rows(app: FastAPI, rows: list[dict[str, Any]]) -> None:
    async with app.state.db.transaction() as session:
        await session.execute(insert(Execution.__table__), rows)


async def add_agent(app: FastAPI, org_id: uuid.UUID, *, revoked: bool = False) -> None:
    async with app.state.db.transaction() as session:
        session.add(Agent(org_id=org_id, name="robot", key_hash="0" * 64, revoked_at=utcnow() if revoked else None))


async def seed(app: FastAPI, client: httpx.AsyncClient, owner: Any, other: Any) -> dict[str, Any]:
    """Two workflows of `owner`'s organisation (Invoices with a 60 s SLA, Reports) and their
    executions over the last hours, one older, one of `other`'s organisation; two agents (one
    revoked). Invoices: ran 10, 20, 30, 100 (a breach) and 50 (failed) s, one cancelled; Reports:
    one running, one queued for 300 s."""
    invoices = await make_workflow(app, owner.org_id, name="Invoices")
    reports = await make_workflow(app, owner.org_id, name="Reports")
    foreign = await make_workflow(app, other.org_id, name="Foreign")
    patched = await client.patch(f"{API}/workflows/{invoices}", headers=owner.headers, json={"sla_seconds": 60})
    assert patched.status_code == 200, patched.text
    now = utcnow()
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    second = first + timedelta(hours=2)
    org = owner.org_id
    rows = [
        # Invoices, in the first hour: ran 10, 20, 30, 100 (breach), 50 (failed) s; waited 1..5 s.
        ran(org, invoices, "succeeded", first + timedelta(minutes=1), 1, 10),
        ran(org, invoices, "succeeded", first + timedelta(minutes=2), 2, 20),
        ran(org, invoices, "succeeded", first + timedelta(minutes=3), 3, 30),
        ran(org, invoices, "succeeded", first + timedelta(minutes=4), 4, 100),
        ran(org, invoices, "failed", first + timedelta(minutes=5), 5, 50),
        row(org, invoices, "cancelled", first + timedelta(minutes=6), finished_at=first + timedelta(minutes=7)),
        # Reports, in the third hour: one running, one waiting in the queue for 300 s.
        row(org, reports, "running", second, assigned_at=second, started_at=second),
        row(org, reports, "queued", now - timedelta(seconds=300)),
        # Not counted: before the period, and another organisation's.
        ran(org, invoices, "succeeded", first - timedelta(hours=3), 1, 1000),
        ran(other.org_id, foreign, "failed", first + timedelta(minutes=1), 1, 1),
    ]
    await insert_rows(app, rows)
    await add_agent(app, org)
    await add_agent(app, org, revoked=True)
    return {"owner": owner, "invoices": str(invoices), "reports": str(reports), "first": first, "now": now}
