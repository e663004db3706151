"""Triggers as the API manages them: create, read, list, change, pause, resume, delete.

Functions take the request's session and only flush; every change is audited. A config is
validated by its kind's model (`_kinds.py`), the input mapping's templates are checked, a chain
that would close a cycle (A → B → A) is refused, and a webhook gets a new unguessable token,
stored as its SHA-256 only.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Invalid, NotFound
from orchestrator.models.triggers import Trigger, TriggerEvent
from orchestrator.models.workflows import Workflow
from orchestrator.services import audit
from orchestrator.services.audit import Actor
from orchestrator.services.workflows import get_workflow
from orchestrator.triggers._hook_cache import config_changed
from orchestrator.triggers._kinds import ChainConfig, ScheduleConfig, parse_config
from orchestrator.triggers._schedule import Schedule
from orchestrator.triggers._schemas import TriggerCreate, TriggerUpdate
from shared.expressions import check_syntax

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A webhook's URL token: 256 random bits."""
    return "wh_" + secrets.token_urlsafe(TOKEN_BYTES)


async def get_trigger(session: AsyncSession, org_id: uuid.UUID, trigger_id: uuid.UUID) -> Trigger:
    """The organisation's trigger; another tenant's is as missing as one that never existed."""
    row = await session.scalar(select(Trigger).where(Trigger.id == trigger_id, Trigger.org_id == org_id))
    if row is None:
        raise NotFound(f"no trigger {trigger_id}")
    return row


async def list_triggers(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID | None, *, limit: int, offset: int
) -> tuple[list[Trigger], int]:
    where = [Trigger.org_id == org_id]
    if workflow_id is not None:
        where.append(Trigger.workflow_id == workflow_id)
    total = await session.scalar(select(func.count()).select_from(Trigger).where(*where))
    rows = await session.scalars(
        select(Trigger).where(*where).order_by(Trigger.created_at, Trigger.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def last_events(session: AsyncSession, trigger: Trigger, limit: int) -> list[TriggerEvent]:
    rows = await session.scalars(
        select(TriggerEvent)
        .where(TriggerEvent.trigger_id == trigger.id, TriggerEvent.org_id == trigger.org_id)
        .order_by(TriggerEvent.received_at.desc(), TriggerEvent.id.desc())
        .limit(limit)
    )
    return list(rows)


def next_fire_times(trigger: Trigger, n: int, now: datetime | None = None) -> list[datetime]:
    """A schedule's next `n` due times (none for other kinds or a paused trigger)."""
    if trigger.kind != "schedule" or not trigger.enabled:
        return []
    config = ScheduleConfig.model_validate(trigger.config)
    return Schedule(config).next_times(now or utcnow(), n)


def _check_inputs(inputs: dict[str, Any]) -> None:
    problems = check_syntax(inputs)
    if problems:
        details = [
            {"location": ".".join(["body", "inputs", *(str(p) for p in path)]), "message": message}
            for path, message in problems
        ]
        raise Invalid(
            "inputs: " + "; ".join(f"{d['location'].removeprefix('body.')}: {d['message']}" for d in details),
            code="invalid_inputs",
            details=details,
        )


async def _check_chain(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, config: ChainConfig, trigger_id: uuid.UUID | None
) -> None:
    """Refuse a chain to a missing workflow, or one that would close a cycle."""
    try:
        upstream = uuid.UUID(config.after_workflow)
        await get_workflow(session, org_id, upstream)
    except (ValueError, NotFound):
        raise Invalid(
            f"config.after_workflow: no workflow {config.after_workflow} in this organisation",
            code="invalid_config",
            details=[{"location": "body.config.after_workflow", "message": "no such workflow"}],
        ) from None
    rows = await session.execute(
        select(Trigger.id, Trigger.workflow_id, Trigger.config).where(Trigger.org_id == org_id, Trigger.kind == "chain")
    )
    edges: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in rows:
        if row.id == trigger_id:
            continue
        try:
            source = uuid.UUID(str(row.config.get("after_workflow")))
        except ValueError:
            continue
        edges.setdefault(source, set()).add(row.workflow_id)
    path = _cycle_from(edges, workflow_id, upstream)
    if path is not None:
        names = await _names(session, org_id, path)
        shown = " → ".join(names.get(w, str(w)) for w in path)
        raise Invalid(
            f"config.after_workflow: this chain would close a cycle ({shown}); a chain may not start what started it",
            code="chain_cycle",
            details=[{"location": "body.config.after_workflow", "message": f"cycle: {shown}"}],
        )


def _cycle_from(
    edges: dict[uuid.UUID, set[uuid.UUID]], start: uuid.UUID, upstream: uuid.UUID
) -> list[uuid.UUID] | None:
    """`[upstream, start, …, upstream]` if `upstream` is reachable from `start`: the new edge
    upstream → start then closes a cycle."""
    parents: dict[uuid.UUID, uuid.UUID | None] = {start: None}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == upstream:
            path: list[uuid.UUID] = []
            step: uuid.UUID | None = node
            while step is not None:
                path.append(step)
                step = parents[step]
            return [upstream, *reversed(path)]
        for follower in edges.get(node, ()):
            if follower not in parents:
                parents[follower] = node
                stack.append(follower)
    return None


async def _names(session: AsyncSession, org_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(Workflow.id, Workflow.name).where(Workflow.org_id == org_id, Workflow.id.in_(ids))
    )
    return {row.id: row.name for row in rows}


async def _validated(
    session: AsyncSession,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    kind: str,
    config: dict[str, Any],
    trigger_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    parsed = parse_config(kind, config)
    if isinstance(parsed, ChainConfig):
        await _check_chain(session, org_id, workflow_id, parsed, trigger_id)
    stored: dict[str, Any] = parsed.model_dump(mode="json", exclude_defaults=False)
    return stored


async def create_trigger(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, body: TriggerCreate, *, actor: Actor
) -> tuple[Trigger, str | None]:
    """A new trigger of the workflow; returns it and, for a webhook, its token (shown once)."""
    await get_workflow(session, org_id, workflow_id)
    config = await _validated(session, org_id, workflow_id, body.kind, body.config)
    _check_inputs(body.inputs)
    token = new_token() if body.kind == "webhook" else None
    now = utcnow()
    trigger = Trigger(
        org_id=org_id,
        workflow_id=workflow_id,
        kind=body.kind,
        name=body.name,
        config=config,
        inputs=body.inputs,
        version=body.version,
        enabled=body.enabled,
        created_by=actor.id,
        updated_by=actor.id,
        token_hash=hash_token(token) if token else None,
        fire_count=0,
        refused_count=0,
        status="",
        cursor={},
        created_at=now,
        updated_at=now,
    )
    session.add(trigger)
    await session.flush()
    await _audit(session, trigger, actor, "trigger.create", {"kind": body.kind, "name": body.name})
    return trigger, token


async def update_trigger(session: AsyncSession, trigger: Trigger, body: TriggerUpdate, *, actor: Actor) -> Trigger:
    changed = sorted(body.model_fields_set)
    if body.config is not None:
        trigger.config = await _validated(
            session, trigger.org_id, trigger.workflow_id, trigger.kind, body.config, trigger.id
        )
    if body.inputs is not None:
        _check_inputs(body.inputs)
        trigger.inputs = body.inputs
    if body.name is not None:
        trigger.name = body.name
    if "version" in body.model_fields_set:
        trigger.version = body.version
    if body.enabled is not None:
        _set_enabled(trigger, body.enabled)
    trigger.updated_by = actor.id
    trigger.updated_at = utcnow()
    await session.flush()
    await _audit(session, trigger, actor, "trigger.update", {"fields": changed})
    return trigger


def _set_enabled(trigger: Trigger, enabled: bool) -> None:
    if enabled and not trigger.enabled and trigger.kind == "schedule":
        # A resumed schedule starts from now: what fell due while paused is not caught up.
        trigger.cursor = {**(trigger.cursor or {}), "last_due": utcnow().isoformat()}
    if not enabled:
        trigger.next_fire_at = None
    trigger.enabled = enabled


async def set_enabled(session: AsyncSession, trigger: Trigger, enabled: bool, *, actor: Actor) -> Trigger:
    """Pause or resume."""
    _set_enabled(trigger, enabled)
    trigger.updated_by = actor.id
    trigger.updated_at = utcnow()
    await session.flush()
    await _audit(session, trigger, actor, "trigger.resume" if enabled else "trigger.pause", {})
    return trigger


async def rekey_trigger(session: AsyncSession, trigger: Trigger, *, actor: Actor) -> str:
    """A webhook's new token (the old one stops working at once)."""
    if trigger.kind != "webhook":
        raise Invalid(f"only a webhook trigger has a token; this one is a {trigger.kind} trigger", code="not_webhook")
    token = new_token()
    trigger.token_hash = hash_token(token)
    trigger.updated_by = actor.id
    trigger.updated_at = utcnow()
    await session.flush()
    await _audit(session, trigger, actor, "trigger.rekey", {})
    return token


async def delete_trigger(session: AsyncSession, trigger: Trigger, *, actor: Actor) -> None:
    await session.execute(delete(TriggerEvent).where(TriggerEvent.trigger_id == trigger.id))
    await session.delete(trigger)
    await session.flush()
    await _audit(session, trigger, actor, "trigger.delete", {"kind": trigger.kind, "name": trigger.name})


async def _audit(session: AsyncSession, trigger: Trigger, actor: Actor, action: str, summary: dict[str, Any]) -> None:
    config_changed(session)  # every change is audited: the webhook cache drops its copies on commit
    await audit.record(
        session,
        org_id=trigger.org_id,
        actor=actor,
        action=action,
        target_type="trigger",
        target_id=trigger.id,
        summary={"workflow_id": str(trigger.workflow_id), **summary},
    )
