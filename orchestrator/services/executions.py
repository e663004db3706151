"""Executions: start (pinning a published version), read, list, cancel, retry.

Functions take a session and only flush; the caller owns the transaction. Every state change
goes through `services/execution_states.py`; the journal lives in `services/execution_journal.py`
(`append_events` is re-exported here, as agents reach it through this module).
"""

from __future__ import annotations

import base64
import binascii
import json
import typing
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, String, Table, bindparam, cast, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import new_id, utcnow
from orchestrator.db.read_cache import ReadCache
from orchestrator.errors import Conflict, Invalid, NotFound
from orchestrator.models.execution_records import ExecutionRecord, new_record
from orchestrator.models.executions import PRIORITIES, Execution, ExecutionTransition
from orchestrator.models.triggers import Trigger, TriggerEvent
from orchestrator.schemas.pagination import capped_count
from orchestrator.services import audit, credential_access, start_keys
from orchestrator.services.audit import Actor
from orchestrator.services.execution_journal import append_events, list_events
from orchestrator.services.execution_states import TERMINAL, State, enter, transition
from orchestrator.services.workflows import PinnedVersion, pin_version, version_document
from shared.errors import FlowInputError
from shared.flow import Flow, resolve_inputs

__all__ = [
    "ExecutionFilters",
    "NewExecution",
    "append_events",
    "cancel_execution",
    "get_execution",
    "list_events",
    "list_executions",
    "list_transitions",
    "prepare_start",
    "queue_new",
    "retry_execution",
    "start_execution",
]


async def get_execution(
    session: AsyncSession, org_id: uuid.UUID, execution_id: uuid.UUID, *, for_update: bool = False
) -> Execution:
    """The organisation's execution; another tenant's is as missing as one that never existed."""
    query = select(Execution).where(Execution.id == execution_id, Execution.org_id == org_id)
    if for_update:
        query = query.with_for_update()
    execution = await session.scalar(query)
    if execution is None:
        raise NotFound(f"no execution {execution_id}")
    return execution


_FLOWS: OrderedDict[uuid.UUID, Flow] = OrderedDict()
_FLOWS_KEPT = 256


async def _flow_of(session: AsyncSession, version: PinnedVersion) -> Flow:
    # A published version never changes: parse its document once per process, not once per start.
    cached = _FLOWS.get(version.id)
    if cached is not None:
        _FLOWS.move_to_end(version.id)
        return cached
    try:
        flow = Flow.model_validate(await version_document(session, version.id))
    except ValidationError as exc:
        # Published versions were validated; this only happens if the format moved on since.
        raise Conflict(
            f"version {version.number} of workflow '{version.workflow_name}' is not a valid flow "
            f"({exc.error_count()} problems); publish a new version",
            code="invalid_version",
        ) from None
    _FLOWS[version.id] = flow
    if len(_FLOWS) > _FLOWS_KEPT:
        _FLOWS.popitem(last=False)
    return flow


def _trigger(kind: str, actor: Actor) -> dict[str, Any]:
    return {"type": kind, "by": {"id": str(actor.id) if actor.id else None, "name": actor.name}}


@dataclass(frozen=True)
class NewExecution:
    """An execution about to be queued: its row (not stored yet), its first history row and its
    audit entry. `queue_new` stores any number of them with one statement per table."""

    execution: ExecutionRecord
    history: dict[str, Any]
    audit: audit.Pending
    key: dict[str, Any] | None = None
    """The `Idempotency-Key` row of the request (`services/start_keys.py`), on its first execution."""
    event: dict[str, Any] | None = None
    """The `trigger_events` row of the event that started it: unique per (trigger, key), so a
    repeated event makes the whole unit fail and stores nothing (`orchestrator/triggers`)."""


_EXECUTIONS = typing.cast(Table, Execution.__table__)
_TRANSITIONS = typing.cast(Table, ExecutionTransition.__table__)
_TRIGGER_EVENTS = typing.cast(Table, TriggerEvent.__table__)
_TRIGGERS = typing.cast(Table, Trigger.__table__)
_FIRED = (
    update(_TRIGGERS)
    .where(_TRIGGERS.c.id == bindparam("tid"))
    .values(fire_count=_TRIGGERS.c.fire_count + bindparam("n"), last_fired_at=bindparam("at"))
)


async def queue_new(session: AsyncSession, news: list[NewExecution]) -> None:
    """Store new executions, their history and audit entries (an INSERT per table, whatever the count)."""
    if not news:
        return
    await session.execute(_EXECUTIONS.insert(), [new.execution.values() for new in news])
    await session.execute(_TRANSITIONS.insert(), [new.history for new in news])
    await audit.record_many(session, [new.audit for new in news])
    await start_keys.store(session, [new.key for new in news if new.key is not None])
    events = [new.event for new in news if new.event is not None]
    if events:
        await _store_trigger_events(session, events)


async def _store_trigger_events(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    """The events' rows (unique per trigger and key) and their triggers' counts, one statement each."""
    await session.execute(_TRIGGER_EVENTS.insert(), events)
    fired: dict[uuid.UUID, int] = {}
    for event in events:
        fired[event["trigger_id"]] = fired.get(event["trigger_id"], 0) + 1
    await session.execute(
        _FIRED,
        [{"tid": trigger_id, "n": count, "at": utcnow()} for trigger_id, count in fired.items()],
    )


async def prepare_start(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    actor: Actor,
    workflow_id: uuid.UUID,
    version: int | None = None,
    inputs: dict[str, Any] | None = None,
    priority: str | None = None,
    deadline_s: float | None = None,
    trigger: str = "manual",
    trigger_data: dict[str, Any] | None = None,
    pins: dict[Any, PinnedVersion] | None = None,
    cache: ReadCache | None = None,
    role: str | None = None,
    execution_id: uuid.UUID | None = None,
) -> NewExecution:
    """Check a start and build the execution of a published version (default: the latest one);
    reads only, and none at all when `cache` (the process's, `db/read_cache.py`) knows the
    version and its flow was parsed before. `queue_new` stores it. `pins` keeps the versions
    already looked up (for the items of one request).

    Raises:
        NotFound: no such workflow or version in the organisation.
        Conflict: `not_published` when the workflow has only a draft.
        Invalid: the inputs do not match the version's declared inputs (each problem as `inputs.<name>: …`).
        Forbidden: (code `credential_not_allowed`) the version reads a credential that `role` (the
            starter's; None: a start by no member) or the workflow may not use.

    `execution_id`: the id an agent gave an attended run it started itself (default: a new one).
    `trigger` is what started it (`manual`, `webhook`, `schedule`, …; the `trigger_type` column)
    and `trigger_data` what the execution's `trigger` JSON records besides (the trigger's id, the
    event's key).
    """
    pinned = pins.get((workflow_id, version)) if pins is not None else None
    if pinned is None:
        pinned = (
            await cache.load((org_id, workflow_id, version), lambda: pin_version(session, org_id, workflow_id, version))
            if cache is not None
            else await pin_version(session, org_id, workflow_id, version)
        )
    if pins is not None:
        pins[(workflow_id, version)] = pinned
    flow = await _flow_of(session, pinned)
    try:
        resolved = resolve_inputs(flow, inputs)
    except FlowInputError as exc:
        raise Invalid(
            "; ".join(exc.problems),
            code="invalid_inputs",
            details=[{"location": p.split(":", 1)[0], "message": p.split(":", 1)[1].strip()} for p in exc.problems],
        ) from None
    used = await _check_credentials(session, org_id, pinned, workflow_id, role)
    priority_name = priority or flow.settings.priority
    now = utcnow()
    execution = new_record(
        id=execution_id or new_id(),
        org_id=org_id,
        workflow_id=workflow_id,
        version_id=pinned.id,
        version_number=pinned.number,
        workflow_name=pinned.workflow_name,
        priority=PRIORITIES.index(priority_name),
        inputs=resolved,
        trigger={**_trigger(trigger, actor), **(trigger_data or {})},
        trigger_type=trigger,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
        deadline_at=now + timedelta(seconds=deadline_s) if deadline_s else None,
        credentials=used or None,
    )
    history = enter(execution, State.QUEUED, reason=f"started ({trigger}) by {actor.name}", actor=actor)
    entry = audit.Pending(
        org_id=org_id,
        actor=actor,
        action="execution.start",
        target_type="execution",
        target_id=execution.id,
        summary={
            "workflow_id": str(workflow_id),
            "version": pinned.number,
            "priority": priority_name,
            "trigger": trigger,
            "inputs": sorted(resolved),
        },
    )
    return NewExecution(execution, history, entry)


async def _check_credentials(
    session: AsyncSession,
    org_id: uuid.UUID,
    pinned: PinnedVersion | uuid.UUID,
    workflow_id: uuid.UUID,
    role: str | None,
) -> list[str]:
    """The credentials the version reads, once `role` was found allowed to use them (a version
    reading none costs no query after its first start in this process)."""
    version_id = pinned.id if isinstance(pinned, PinnedVersion) else pinned
    uses = credential_access.cached_uses(version_id)
    if uses is None:
        uses = credential_access.uses_of_version(version_id, await version_document(session, version_id))
    return await credential_access.check_use(
        session, org_id, uses, role=role, workflow=workflow_id, doing="start this flow"
    )


async def start_execution(session: AsyncSession, **start: Any) -> Execution:
    """Queue a new execution in the caller's transaction (`prepare_start`'s arguments and errors);
    returns it loaded in the session."""
    return await _queue_one(session, await prepare_start(session, **start))


async def _queue_one(session: AsyncSession, new: NewExecution) -> Execution:
    """`queue_new` for one, returning the execution loaded in the session (callers go on with it)."""
    await queue_new(session, [new])
    stored = await session.get(Execution, new.execution.id)
    assert stored is not None  # inserted just now, in this transaction
    return stored


async def cancel_execution(session: AsyncSession, execution: Execution, *, actor: Actor, reason: str = "") -> Execution:
    """Cancel: a queued (or lost) execution is cancelled at once; one held by an agent gets
    `cancel_requested_at` and stays in its state until the agent confirms. Asking twice is harmless."""
    state = State(execution.state)
    if state in TERMINAL:
        raise Conflict(
            f"the execution is already '{state}'; there is nothing to cancel",
            code="already_finished",
            details={"state": state.value},
        )
    now = utcnow()
    first_request = execution.cancel_requested_at is None
    if first_request:
        execution.cancel_requested_at = now
    why = reason or f"cancelled by {actor.name}"
    if state in (State.QUEUED, State.LOST):
        await transition(session, execution, State.CANCELLED, reason=why, actor=actor)
    elif not first_request:
        return execution
    execution.updated_at = now
    await audit.record(
        session,
        org_id=execution.org_id,
        actor=actor,
        action="execution.cancel",
        target_type="execution",
        target_id=execution.id,
        summary={"state": state.value, "immediate": state in (State.QUEUED, State.LOST), "reason": reason},
    )
    await session.flush()
    return execution


async def retry_execution(
    session: AsyncSession, parent: Execution, *, actor: Actor, resume: bool = False, role: str | None = None
) -> Execution:
    """A new execution of the same version with the same inputs and priority (`parent_execution_id` set).

    With `resume`, it records `resume_from` so the agent continues from the parent's journal.
    """
    state = State(parent.state)
    if state not in TERMINAL:
        raise Conflict(
            f"the execution is still '{state}'; only a finished execution can be retried",
            code="not_finished",
            details={"state": state.value},
        )
    if resume and state is State.SUCCEEDED:
        raise Conflict(
            "the execution succeeded; there is nothing to resume (retry without resume to run it again)",
            code="nothing_to_resume",
        )
    used = await _check_credentials(session, parent.org_id, parent.version_id, parent.workflow_id, role)
    now = utcnow()
    deadline = None
    if parent.deadline_at is not None and parent.queued_at is not None:
        deadline = now + (parent.deadline_at - parent.queued_at)
    execution = new_record(
        id=new_id(),
        org_id=parent.org_id,
        workflow_id=parent.workflow_id,
        version_id=parent.version_id,
        version_number=parent.version_number,
        workflow_name=parent.workflow_name,
        priority=parent.priority,
        inputs=dict(parent.inputs or {}),
        trigger=_trigger("retry", actor),
        trigger_type="retry",
        created_by=actor.id,
        parent_execution_id=parent.id,
        resume_from=parent.id if resume else None,
        deadline_at=deadline,
        created_at=now,
        updated_at=now,
        credentials=used or None,
    )
    history = enter(execution, State.QUEUED, reason=f"retry of {parent.id} by {actor.name}", actor=actor)
    return await _queue_one(
        session,
        NewExecution(
            execution,
            history,
            audit.Pending(
                org_id=parent.org_id,
                actor=actor,
                action="execution.retry",
                target_type="execution",
                target_id=execution.id,
                summary={"parent": str(parent.id), "resume": resume, "version": parent.version_number},
            ),
        ),
    )


@dataclass(frozen=True)
class ExecutionFilters:
    states: list[str] = field(default_factory=list)
    workflow_id: uuid.UUID | None = None
    trigger_type: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None


def _conditions(org_id: uuid.UUID, filters: ExecutionFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Execution.org_id == org_id]
    if filters.states:
        where.append(Execution.state.in_(filters.states))
    if filters.workflow_id is not None:
        where.append(Execution.workflow_id == filters.workflow_id)
    if filters.trigger_type:
        where.append(Execution.trigger_type == filters.trigger_type)
    if filters.created_after is not None:
        where.append(Execution.created_at >= filters.created_after)
    if filters.created_before is not None:
        where.append(Execution.created_at < filters.created_before)
    text = (filters.q or "").strip()
    if text:
        matches = [Execution.workflow_name.icontains(text, autoescape=True)]
        prefix = text.lower().replace("-", "")
        if prefix and all(c in "0123456789abcdef" for c in prefix):
            # The id as 32 hex digits on every database (PostgreSQL prints dashes, SQLite stores none).
            hex_id = func.replace(cast(Execution.id, String), "-", "")
            matches.append(hex_id.startswith(prefix, autoescape=True))
        where.append(or_(*matches))
    return where


def encode_cursor(execution: Execution) -> str:
    raw = json.dumps([execution.created_at.isoformat(), str(execution.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, ident = json.loads(raw)
        return datetime.fromisoformat(created), uuid.UUID(ident)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise Invalid(
            "cursor: not a cursor this API issued (pass next_cursor back unchanged)",
            details=[{"location": "query:cursor", "message": str(exc)}],
        ) from None


async def list_executions(
    session: AsyncSession,
    org_id: uuid.UUID,
    filters: ExecutionFilters,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
) -> tuple[list[Execution], tuple[int, bool], str | None]:
    """Newest first. Returns (page, (total matching the filters, whether that total is capped at
    `COUNT_CAP`), cursor of the next page or None).

    With `cursor`, the page starts after the row the cursor names (keyset: cheap at any depth) and
    `offset` must be 0.
    """
    where = _conditions(org_id, filters)
    total = await capped_count(session, select(Execution.id).where(*where))
    query = select(Execution).where(*where)
    if cursor:
        if offset:
            raise Invalid("offset: use either offset or cursor, not both")
        created, ident = decode_cursor(cursor)
        query = query.where(tuple_(Execution.created_at, Execution.id) < (created, ident))
    else:
        query = query.offset(offset)
    rows = list(
        await session.scalars(query.order_by(Execution.created_at.desc(), Execution.id.desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, total, (encode_cursor(rows[-1]) if more and rows else None)


async def list_transitions(
    session: AsyncSession, execution: Execution, *, limit: int, offset: int
) -> tuple[list[ExecutionTransition], int]:
    where = (ExecutionTransition.execution_id == execution.id, ExecutionTransition.org_id == execution.org_id)
    total = await session.scalar(select(func.count()).select_from(ExecutionTransition).where(*where))
    rows = await session.scalars(
        select(ExecutionTransition).where(*where).order_by(ExecutionTransition.seq).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)
