"""A failed execution with a journal and an artifact, made the way the agent's reports store them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI

from orchestrator.models.executions import ExecutionEvent
from orchestrator.services.artifacts import artifact_root, receive_artifact
from orchestrator.services.execution_states import State, transition
from orchestrator.services.executions import get_execution
from tests.orchestrator._execution_helpers import SYSTEM, make_execution

EVENTS = [
    ("node.started", "wait", {"attempt": 1, "type": "core.wait"}),
    ("log", "wait", {"level": "info", "message": "waiting"}),
    ("node.failed", "wait", {"attempt": 1, "will_retry": False, "error": {"message": "waited too long"}}),
]


async def failed_execution(app: FastAPI, org_id: uuid.UUID, workflow_id: uuid.UUID) -> str:
    """An execution that ran, journalled `EVENTS` and failed, with a CSV artifact."""
    execution_id = await make_execution(app, org_id, workflow_id, state=State.RUNNING)
    async with app.state.db.transaction() as session:
        for seq, (kind, path, data) in enumerate(EVENTS, start=1):
            session.add(
                ExecutionEvent(execution_id=execution_id, seq=seq, org_id=org_id, type=kind, path=path, data=data, ts=0)
            )
        execution = await get_execution(session, org_id, execution_id)
        execution.error = {"message": "waited too long", "node": "wait"}
        execution.last_seq = execution.stored_seq = len(EVENTS)
        await receive_artifact(
            session,
            artifact_root(app.state.settings),
            execution,
            name="report.csv",
            chunks=_chunks(b"a,b\n1,2\n"),
            limit=8,
            content_type="text/csv",
        )
        await transition(session, execution, State.FAILED, reason="test", actor=SYSTEM)
    return str(execution_id)


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    yield content
