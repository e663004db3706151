"""The live view of an execution: its stored journal, then each new batch as the agent's events
are stored, as Server-Sent Events (`id` = seq, so a client reconnects with `Last-Event-ID`).

Stored events are read from the database (the source of truth); the hub only says "there is
more". Subscribing before reading means no batch can slip between the two.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

from orchestrator.db.session import Database
from orchestrator.models.executions import Execution
from orchestrator.runtime.hub import AgentHub
from orchestrator.services.execution_journal import list_events
from orchestrator.services.execution_states import TERMINAL, State

PAGE = 500
KEEPALIVE_S = 15.0


async def journal_stream(
    db: Database, hub: AgentHub | None, execution_id: uuid.UUID, after_seq: int, *, follow: bool
) -> AsyncIterator[str]:
    queue = hub.watch(execution_id) if follow and hub is not None else None
    last, state = after_seq, ""
    try:
        while True:
            async with db.transaction() as session:
                execution = await session.get(Execution, execution_id)
                if execution is None:
                    return
                rows, _ = await list_events(session, execution, after_seq=last, limit=PAGE)
                state = execution.state
            for row in rows:
                payload = {"seq": row.seq, "type": row.type, "path": row.path, "data": row.data, "ts": row.ts}
                yield f"id: {row.seq}\nevent: journal\ndata: {json.dumps(payload, default=str)}\n\n"
                last = row.seq
            if len(rows) == PAGE:
                continue
            if queue is None or State(state) in TERMINAL:
                break
            try:
                await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
        yield f"event: end\ndata: {json.dumps({'state': state, 'last_seq': last})}\n\n"
    finally:
        if queue is not None and hub is not None:
            hub.unwatch(execution_id, queue)
