"""Helpers of the trigger tests: a published workflow with inputs, triggers made through the API,
an in-process finisher standing in for an agent, and waiting for a condition."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from orchestrator.models.executions import Execution
from orchestrator.services.execution_states import State
from orchestrator.services.executions import get_execution
from tests.orchestrator._execution_helpers import SYSTEM, drive, make_workflow

API = "/api/v1"


def flow(name: str = "Invoices") -> dict[str, Any]:
    """A flow with one required input (`customer`) and one with a default (`count`)."""
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "inputs": {"customer": {"type": "string", "required": True}, "count": {"type": "integer", "default": 3}},
        "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
    }


async def workflow(app: FastAPI, org_id: uuid.UUID, name: str | None = None) -> uuid.UUID:
    return await make_workflow(app, org_id, name=name, document=flow(name or "Invoices"))


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: uuid.UUID, kind: str, **body: Any
) -> dict[str, Any]:
    body.setdefault("name", f"{kind}-{uuid.uuid4().hex[:6]}")
    body.setdefault("inputs", {"customer": "{{ event.body.customer }}"} if kind == "webhook" else {"customer": "x"})
    response = await client.post(
        f"{API}/workflows/{workflow_id}/triggers", json={"kind": kind, **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def show(client: httpx.AsyncClient, headers: dict[str, str], trigger_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/triggers/{trigger_id}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


async def finish(
    app: FastAPI,
    org_id: uuid.UUID,
    execution_id: uuid.UUID | str,
    state: State = State.SUCCEEDED,
    outputs: dict[str, Any] | None = None,
) -> None:
    """End an execution through the legal moves, as an agent's reports would."""
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, org_id, uuid.UUID(str(execution_id)), for_update=True)
        if outputs is not None:
            execution.outputs = outputs
        await drive(session, execution, state)


async def executions_of(app: FastAPI, org_id: uuid.UUID, workflow_id: uuid.UUID) -> list[Execution]:
    async with app.state.db.transaction() as session:
        rows = await session.scalars(
            select(Execution)
            .where(Execution.org_id == org_id, Execution.workflow_id == workflow_id)
            .order_by(Execution.created_at)
        )
        return list(rows)


async def count_executions(app: FastAPI, org_id: uuid.UUID, workflow_id: uuid.UUID) -> int:
    async with app.state.db.transaction() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Execution)
                .where(Execution.org_id == org_id, Execution.workflow_id == workflow_id)
            )
            or 0
        )


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:
    """`check()` once it is truthy; the bound is far above what a loaded machine needs (10 s was
    missed once by a PostgreSQL test late in a full run), far below the per-test timeout."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


__all__ = ["API", "SYSTEM", "create", "eventually", "executions_of", "finish", "flow", "show", "workflow"]
