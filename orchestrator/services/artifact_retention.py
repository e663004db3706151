"""Artifact retention: rules per organisation and per workflow, and one purge pass.

A workflow's rule (`artifact_retention` row with its id) overrides its organisation's (the row with
`workflow_key` ""); with neither, `RPA_ARTIFACT_RETENTION_DAYS` applies (None: kept for ever).
A rule purges files older than `days`, and versions of a name beyond the newest `keep_last`.

Several replicas may purge at once on one PostgreSQL: a pass locks the rows it takes with
`FOR UPDATE SKIP LOCKED`, deletes their files, then the rows, in one transaction; a row another
pass holds is skipped, so every file is deleted once. (SQLite runs one process; there the lock
clause is left out by the dialect.)
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from orchestrator.db.base import utcnow
from orchestrator.errors import Invalid, NotFound
from orchestrator.models.executions import Artifact, ArtifactRetention
from orchestrator.services.artifact_store import ArtifactStore
from orchestrator.services.audit import Actor, record
from orchestrator.services.workflows import get_workflow

log = logging.getLogger("rpa.orchestrator")


@dataclass(frozen=True)
class Rule:
    days: int | None
    keep_last: int | None


async def _rule(session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID | None) -> ArtifactRetention | None:
    if workflow_id is not None:
        await get_workflow(session, org_id, workflow_id)  # another organisation's workflow: 404
    key = str(workflow_id) if workflow_id is not None else ""
    found: ArtifactRetention | None = await session.scalar(
        select(ArtifactRetention).where(ArtifactRetention.org_id == org_id, ArtifactRetention.workflow_key == key)
    )
    return found


def _summary(row: ArtifactRetention) -> dict[str, Any]:
    return {"workflow_id": row.workflow_id, "days": row.days, "keep_last": row.keep_last}


async def set_retention(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    workflow_id: uuid.UUID | None,
    days: int | None,
    keep_last: int | None,
    actor: Actor | None = None,
) -> ArtifactRetention:
    """Set the organisation's rule (`workflow_id` None) or a workflow's; both None removes limits.

    Raises:
        Invalid: `days` or `keep_last` below 1.
        NotFound: a workflow that is not the organisation's.
    """
    if days is not None and days < 1:
        raise Invalid("days: expected at least 1", details={"field": "days"})
    if keep_last is not None and keep_last < 1:
        raise Invalid("keep_last: expected at least 1", details={"field": "keep_last"})
    row = await _rule(session, org_id, workflow_id)
    before = _summary(row) if row is not None else None
    if row is None:
        key = str(workflow_id) if workflow_id is not None else ""
        row = ArtifactRetention(id=uuid.uuid4(), org_id=org_id, workflow_id=workflow_id, workflow_key=key)
        session.add(row)
    row.days, row.keep_last = days, keep_last
    await session.flush()
    if actor is not None:
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="artifact_retention.set",
            target_type="workflow" if workflow_id is not None else "organisation",
            target_id=workflow_id or org_id,
            summary={"before": before, "after": _summary(row)},
        )
    return row


async def list_retention(session: AsyncSession, org_id: uuid.UUID) -> list[ArtifactRetention]:
    """The organisation's rules: its own first (if set), then its workflows' by workflow id."""
    rows = await session.scalars(
        select(ArtifactRetention)
        .where(ArtifactRetention.org_id == org_id)
        .order_by(ArtifactRetention.workflow_key)  # "" (the organisation's) sorts first
    )
    return list(rows)


async def delete_retention(
    session: AsyncSession, org_id: uuid.UUID, *, workflow_id: uuid.UUID | None, actor: Actor | None = None
) -> ArtifactRetention:
    """Remove the organisation's rule or a workflow's: the next rule up applies again (the
    organisation's for a workflow, `RPA_ARTIFACT_RETENTION_DAYS` for the organisation).

    Raises:
        NotFound: no such rule, or a workflow that is not the organisation's.
    """
    row = await _rule(session, org_id, workflow_id)
    if row is None:
        whose = f"workflow {workflow_id}" if workflow_id is not None else "the organisation"
        raise NotFound(
            f"{whose} has no retention rule of its own", details={"workflow_id": workflow_id and str(workflow_id)}
        )
    await session.delete(row)
    await session.flush()
    if actor is not None:
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="artifact_retention.delete",
            target_type="workflow" if workflow_id is not None else "organisation",
            target_id=workflow_id or org_id,
            summary={"before": _summary(row)},
        )
    return row


def _limits(rule: Rule, now: datetime) -> ColumnElement[bool]:
    """Artifacts a rule lets go: older than its days, or behind `keep_last` newer versions."""
    parts: list[ColumnElement[bool]] = []
    if rule.days is not None:
        parts.append(Artifact.created_at < now - timedelta(days=rule.days))
    if rule.keep_last is not None:
        newer = aliased(Artifact)
        newer_count = (
            select(func.count())
            .where(
                newer.org_id == Artifact.org_id,
                newer.workflow_id == Artifact.workflow_id,
                newer.name == Artifact.name,
                newer.version > Artifact.version,
            )
            .scalar_subquery()
        )
        parts.append(newer_count >= rule.keep_last)
    return or_(*parts) if parts else false()


async def _expired(session: AsyncSession, default_days: int | None, now: datetime) -> ColumnElement[bool]:
    """One condition over `artifacts` selecting every file some rule lets go."""
    rules = list(await session.scalars(select(ArtifactRetention)))
    own = [r for r in rules if r.workflow_id is not None]
    org_rules = {r.org_id: r for r in rules if r.workflow_id is None}
    parts = [
        and_(
            Artifact.org_id == r.org_id,
            Artifact.workflow_id == r.workflow_id,
            _limits(Rule(r.days, r.keep_last), now),
        )
        for r in own
    ]
    # Workflows with their own rule are out of their organisation's (and of the default).
    others = and_(true(), *(or_(Artifact.org_id != r.org_id, Artifact.workflow_id != r.workflow_id) for r in own))
    for org_id, r in org_rules.items():
        parts.append(and_(Artifact.org_id == org_id, others, _limits(Rule(r.days, r.keep_last), now)))
    if default_days is not None:
        outside = and_(true(), *(Artifact.org_id != org_id for org_id in org_rules))
        parts.append(and_(outside, others, _limits(Rule(default_days, None), now)))
    return or_(*parts) if parts else false()


async def purge_once(
    session: AsyncSession, store: ArtifactStore, *, default_days: int | None, batch: int = 200
) -> list[uuid.UUID]:
    """Delete up to `batch` artifacts the rules let go (files, then rows); their ids.

    Call it in a transaction of its own: the rows stay locked until it commits."""
    condition = await _expired(session, default_days, utcnow())
    rows = list(
        await session.scalars(
            select(Artifact)
            .where(condition)
            .order_by(Artifact.created_at, Artifact.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    for artifact in rows:
        await asyncio.to_thread(store.delete, artifact.path)
        await session.delete(artifact)
    await session.flush()
    if rows:
        log.info("artifact retention purged %d files", len(rows))
    return [a.id for a in rows]
