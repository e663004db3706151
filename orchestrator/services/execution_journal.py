"""An execution's journal as the orchestrator stores it: idempotent appends, paged reads.

Agents send journal events in batches that may repeat (a retried upload) or arrive out of order
(parallel uploads). Each event is stored once per `(execution_id, seq)`:

- an event whose seq is stored already is ignored when it is identical, and the whole batch is
  refused (409 `seq_conflict`) when it differs — a journal never changes once written;
- gaps are stored as they come; `Execution.last_seq` is the highest seq with no gap below it;
- lifecycle events (`execution.started`, `execution.finished`) are folded into the execution row,
  through the state rules, once the journal is contiguous up to them — so a row never claims an
  end its journal cannot show yet.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.db.session import defer_insert, write_deferred
from orchestrator.errors import Conflict, Invalid
from orchestrator.models.execution_records import AnyExecution
from orchestrator.models.executions import Execution, ExecutionEvent
from orchestrator.services.audit import Actor
from orchestrator.services.execution_states import TERMINAL, IllegalTransition, State, transition
from shared.engine import EVENT_TYPES

MAX_BATCH = 5000
_CHUNK = 500
"""Rows per INSERT: 7 bound values each stays far below SQLite's variable limit."""
EXECUTION_STARTED = "execution.started"
EXECUTION_FINISHED = "execution.finished"
_FINISHED_STATES = {state.value for state in TERMINAL}


def _checked(events: Sequence[Any]) -> dict[int, dict[str, Any]]:  # noqa: C901
    """The batch by seq, each event normalised; 422 naming every bad field, 409 on an inner clash."""
    if len(events) > MAX_BATCH:
        raise Invalid(f"events: at most {MAX_BATCH} events per batch, got {len(events)}")
    problems: list[str] = []
    by_seq: dict[int, dict[str, Any]] = {}
    for index, raw in enumerate(events):
        where = f"events[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected an object with seq, type, path, data, ts")
            continue
        seq, kind, path, data, ts = (raw.get(k) for k in ("seq", "type", "path", "data", "ts"))
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            problems.append(f"{where}.seq: expected an integer ≥ 1, got {seq!r}")
        if kind not in EVENT_TYPES:
            problems.append(f"{where}.type: unknown event type {kind!r}")
        if not isinstance(path, str) or len(path) > 2000:
            problems.append(f"{where}.path: expected text of at most 2000 characters")
        if not isinstance(data, dict):
            problems.append(f"{where}.data: expected an object")
        else:
            try:
                json.dumps(data, allow_nan=False)
            except (TypeError, ValueError) as exc:
                problems.append(f"{where}.data: not JSON ({exc})")
            if kind == EXECUTION_FINISHED and data.get("status") not in _FINISHED_STATES:
                problems.append(
                    f"{where}.data.status: expected one of {sorted(_FINISHED_STATES)}, got {data.get('status')!r}"
                )
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
            problems.append(f"{where}.ts: expected a number of seconds since the epoch")
        if problems:
            continue
        # Checked above (any problem, in this event or an earlier one, skips the rest).
        seq, ts = cast(int, seq), cast(float, ts)
        event = {"seq": seq, "type": kind, "path": path, "data": data, "ts": float(ts)}
        if seq in by_seq and by_seq[seq] != event:
            raise Conflict(
                f"{where}: seq {seq} appears twice in the batch with different content",
                code="seq_conflict",
                details={"seqs": [seq]},
            )
        by_seq[seq] = event
    if problems:
        raise Invalid(
            "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""), details=problems
        )
    return by_seq


def _insert(session: AsyncSession) -> Any:
    # ON CONFLICT DO NOTHING is spelled by each dialect's own insert().
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def append_events(  # noqa: C901
    session: AsyncSession,
    execution: AnyExecution,
    events: Sequence[dict[str, Any]],
    *,
    actor: Actor | None = None,
) -> int:
    """Store a batch of journal events of `execution`; returns how many were new.

    The caller holds the execution row locked (`get_execution(..., for_update=True)`), so two
    batches of one execution move `last_seq` and fold lifecycle events one after the other.

    Raises:
        Invalid: an event is malformed (every problem is named as `events[i].field`).
        Conflict: `seq_conflict` when a seq is stored (or repeated in the batch) with other content;
            nothing of the batch is kept (the caller's transaction rolls back).
        IllegalTransition: a lifecycle event cannot be applied to the execution's state.
    """
    batch = _checked(events)
    if not batch:
        return 0
    table = cast(Table, ExecutionEvent.__table__)
    now = utcnow()
    rows = [
        {"execution_id": execution.id, "org_id": execution.org_id, "received_at": now, **event}
        for event in batch.values()
    ]
    seqs = sorted(batch)
    if (
        (execution.stored_seq or 0) <= execution.last_seq
        and seqs[0] == execution.last_seq + 1
        and seqs[-1] == execution.last_seq + len(seqs)
    ):
        # The common case: the batch continues the journal and nothing beyond it is stored, so
        # there is nothing to compare with and no gap to close: the rows go out with the session's
        # next flush (one INSERT for every batch of a writer's transaction), folded from the batch.
        for row in rows:
            defer_insert(session, table, row)
        execution.last_seq = execution.stored_seq = seqs[-1]
        execution.updated_at = now
        for seq in seqs:
            event = batch[seq]
            if event["type"] in (EXECUTION_STARTED, EXECUTION_FINISHED):
                await _fold(session, execution, seq, event["type"], event["data"], actor or _agent(execution))
        return len(rows)
    await write_deferred(session)  # what this transaction journaled already, before comparing with it
    stored = 0
    for start in range(0, len(rows), _CHUNK):
        statement = _insert(session)(table).values(rows[start : start + _CHUNK])
        result = await session.execute(statement.on_conflict_do_nothing(index_elements=["execution_id", "seq"]))
        stored += max(result.rowcount, 0)  # type: ignore[attr-defined]
    # Whatever was there before (or was written concurrently) must equal what was sent.
    conflicts: list[int] = []
    for start in range(0, len(seqs), _CHUNK):
        found = await session.execute(
            select(
                ExecutionEvent.seq, ExecutionEvent.type, ExecutionEvent.path, ExecutionEvent.data, ExecutionEvent.ts
            ).where(ExecutionEvent.execution_id == execution.id, ExecutionEvent.seq.in_(seqs[start : start + _CHUNK]))
        )
        for seq, kind, path, data, ts in found:
            sent = batch[seq]
            if (kind, path, data, ts) != (sent["type"], sent["path"], sent["data"], sent["ts"]):
                conflicts.append(seq)
    if conflicts:
        conflicts.sort()
        shown = ", ".join(str(s) for s in conflicts[:10])
        raise Conflict(
            f"the journal already holds different events at seq {shown}; a journal event never changes",
            code="seq_conflict",
            details={"seqs": conflicts},
        )
    execution.stored_seq = max(execution.stored_seq or 0, seqs[-1])
    await _advance(session, execution, actor or _agent(execution))
    return stored


def _agent(execution: AnyExecution) -> Actor:
    return Actor(id=execution.agent_id, name=f"agent:{execution.agent_id}" if execution.agent_id else "agent")


async def _advance(session: AsyncSession, execution: AnyExecution, actor: Actor) -> None:
    """Move `last_seq` over every contiguous stored event and fold the lifecycle events it passed."""
    before = execution.last_seq
    after = before
    pending = await session.scalars(
        select(ExecutionEvent.seq)
        .where(ExecutionEvent.execution_id == execution.id, ExecutionEvent.seq > before)
        .order_by(ExecutionEvent.seq)
    )
    for seq in pending:
        if seq != after + 1:
            break
        after = seq
    if after == before:
        return
    execution.last_seq = after
    execution.updated_at = utcnow()
    lifecycle = await session.execute(
        select(ExecutionEvent.seq, ExecutionEvent.type, ExecutionEvent.data)
        .where(
            ExecutionEvent.execution_id == execution.id,
            ExecutionEvent.seq > before,
            ExecutionEvent.seq <= after,
            ExecutionEvent.type.in_([EXECUTION_STARTED, EXECUTION_FINISHED]),
        )
        .order_by(ExecutionEvent.seq)
    )
    for seq, kind, data in lifecycle.all():
        await _fold(session, execution, seq, kind, data, actor)
    await session.flush()


async def _fold(
    session: AsyncSession, execution: AnyExecution, seq: int, kind: str, data: dict[str, Any], actor: Actor
) -> None:
    state = State(execution.state)
    reason = f"journal: {kind} (seq {seq})"
    if kind == EXECUTION_STARTED:
        if state is State.ASSIGNED:
            await transition(session, execution, State.RUNNING, reason=reason, actor=actor)
        return
    if state in TERMINAL:
        return  # decided already (e.g. timed out by the orchestrator); the journal keeps the agent's view
    if state in (State.QUEUED, State.LOST):
        raise IllegalTransition(
            f"the execution is '{state}', so its journal cannot finish it (seq {seq} is execution.finished)",
            details={"from": state.value, "to": data["status"], "seq": seq},
        )
    if state is not State.RUNNING:
        # The agent ran it to the end: the start (or the resume after a pause) comes first.
        await transition(session, execution, State.RUNNING, reason=reason, actor=actor)
    execution.outputs = data.get("outputs") or {}
    execution.error = data.get("error")
    await transition(session, execution, data["status"], reason=reason, actor=actor)


async def list_events(
    session: AsyncSession, execution: Execution, *, after_seq: int, limit: int
) -> tuple[list[ExecutionEvent], int | None]:
    """Stored events with seq > `after_seq`, in order, and the `after_seq` of the next page (or None)."""
    rows = list(
        await session.scalars(
            select(ExecutionEvent)
            .where(ExecutionEvent.execution_id == execution.id, ExecutionEvent.seq > after_seq)
            .order_by(ExecutionEvent.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more else None)


def resume_seed(events: list[ExecutionEvent]) -> list[dict[str, Any]]:
    """The journal of a finished execution, as a new one resumes it: without its end and without
    final failures (so the failed steps run again), renumbered from 1."""
    kept = [
        e
        for e in events
        if e.type != "execution.finished"
        and not (e.type == "node.failed" and not (e.data or {}).get("will_retry") and not (e.data or {}).get("handled"))
    ]
    return [{"seq": i, "type": e.type, "path": e.path, "data": e.data, "ts": e.ts} for i, e in enumerate(kept, 1)]
