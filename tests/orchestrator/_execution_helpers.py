"""Workflows to execute, executions in a given state, and many executions at once, for the
execution tests. Workflows are made through the workflow service (as the API would)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import insert

from orchestrator.db.base import utcnow
from orchestrator.models.executions import Execution
from orchestrator.services import workflows as workflow_service
from orchestrator.services.audit import Actor
from orchestrator.services.execution_states import RULES, State, transition
from orchestrator.services.executions import get_execution, start_execution

SYSTEM = Actor(None, "test")


def flow(name: str = "Invoices", *, inputs: dict[str, Any] | None = None, priority: str = "normal") -> dict[str, Any]:
    """A valid flow document with declared inputs."""
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "inputs": inputs
        if inputs is not None
        else {
            "customer": {"type": "string", "required": True},
            "count": {"type": "integer", "default": 3},
        },
        "settings": {"priority": priority},
        "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
    }


async def make_workflow(
    app: FastAPI,
    org_id: uuid.UUID,
    *,
    name: str | None = None,
    document: dict[str, Any] | None = None,
    publish: int = 1,
) -> uuid.UUID:
    """A workflow of `org_id` published `publish` times (0: only a draft)."""
    name = name or f"Invoices {uuid.uuid4().hex[:6]}"
    async with app.state.db.transaction() as session:
        workflow, _ = await workflow_service.create_workflow(
            session, org_id, SYSTEM, name=name, document=document or flow(name)
        )
        for _ in range(publish):
            await workflow_service.publish(session, org_id, workflow.id, SYSTEM)
        return workflow.id


async def make_execution(
    app: FastAPI,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    inputs: dict[str, Any] | None = None,
    state: State = State.QUEUED,
    agent_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A started execution, moved to `state` through legal transitions."""
    async with app.state.db.transaction() as session:
        execution = await start_execution(
            session,
            org_id=org_id,
            actor=SYSTEM,
            workflow_id=workflow_id,
            inputs=inputs if inputs is not None else {"customer": "ACME"},
        )
        await drive(session, execution, state, agent_id=agent_id)
        return execution.id


async def make_requeued(
    app: FastAPI, org_id: uuid.UUID, workflow_id: uuid.UUID, agent_id: uuid.UUID, *, times: int = 1
) -> uuid.UUID:
    """An execution that ran on `agent_id` and whose agent was lost `times` times (assigned to it
    again in between): queued, attempt `times` + 1, `previous_agent_id` the agent."""
    execution_id = await make_execution(app, org_id, workflow_id, state=State.RUNNING, agent_id=agent_id)
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, org_id, execution_id)
        for time in range(times):
            if time:
                execution.agent_id = agent_id
                await transition(session, execution, State.ASSIGNED, reason="dispatch", actor=SYSTEM)
            await transition(session, execution, State.LOST, reason="gone", actor=SYSTEM)
            await transition(session, execution, State.QUEUED, reason="requeued", actor=SYSTEM)
    return execution_id


def path_to(target: State) -> list[State]:
    """The shortest chain of legal moves from queued to `target` (breadth-first over the rules),
    as a run goes: not through a reclaim (queued → running, only for an agent that came back)."""
    paths: dict[State, list[State]] = {State.QUEUED: []}
    frontier = [State.QUEUED]
    while frontier:
        following: list[State] = []
        for state in frontier:
            for rule in RULES:
                if rule.name == "reclaim":
                    continue
                if state in rule.sources and rule.target not in paths:
                    paths[rule.target] = [*paths[state], rule.target]
                    following.append(rule.target)
        frontier = following
    return paths[target]


async def drive(session: Any, execution: Execution, target: State, *, agent_id: uuid.UUID | None = None) -> None:
    for step in path_to(target):
        if step is State.ASSIGNED:
            execution.agent_id = agent_id or uuid.uuid4()
        await transition(session, execution, step, reason="test", actor=SYSTEM)


async def load(app: FastAPI, org_id: uuid.UUID, execution_id: uuid.UUID) -> Execution:
    async with app.state.db.transaction() as session:
        return await get_execution(session, org_id, execution_id)


async def seed_executions(
    app: FastAPI,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    count: int,
    *,
    name: str = "Seeded",
    start: datetime | None = None,
    states: tuple[str, ...] = ("queued", "running", "succeeded", "failed"),
    triggers: tuple[str, ...] = ("manual", "schedule"),
) -> list[dict[str, Any]]:
    """`count` execution rows in one bulk insert; every 4 consecutive rows share a `created_at`, so
    keyset pagination must break ties on the id. Returns the rows as inserted."""
    start = start or utcnow() - timedelta(days=1)
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "workflow_id": workflow_id,
            "version_id": uuid.uuid4(),
            "version_number": 1,
            "workflow_name": name,
            "state": states[i % len(states)],
            "priority": i % 4,
            "inputs": {"i": i},
            "trigger": {"type": triggers[i % len(triggers)], "by": None},
            "trigger_type": triggers[i % len(triggers)],
            "attempt": 1,
            "last_seq": 0,
            "created_at": start + timedelta(seconds=i // 4),
            "updated_at": start,
            "queued_at": start,
        }
        for i in range(count)
    ]
    async with app.state.db.transaction() as session:
        await session.execute(insert(Execution.__table__), rows)
    return rows
