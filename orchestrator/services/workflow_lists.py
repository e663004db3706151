"""Lists of workflows, tags and categories (filters, search, sort).

Kept apart from `workflows.py` (drafts and publishing) and re-exported by it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models.workflows import Workflow, WorkflowTag

__all__ = ["SORTS", "clean_tags", "list_categories", "list_tags", "list_workflows"]

SORTS = {"name": Workflow.name, "created_at": Workflow.created_at, "updated_at": Workflow.updated_at}


def clean_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


def _filtered(
    query: Select[Any],
    org_id: uuid.UUID,
    *,
    tags: Sequence[str],
    category: str | None,
    q: str | None,
    has_published: bool | None,
) -> Select[Any]:
    query = query.where(Workflow.org_id == org_id, Workflow.deleted_at.is_(None))
    for tag in clean_tags(tags):
        query = query.where(
            Workflow.id.in_(select(WorkflowTag.workflow_id).where(WorkflowTag.org_id == org_id, WorkflowTag.tag == tag))
        )
    if category is not None:
        query = query.where(Workflow.category == category)
    if q:
        pattern = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(Workflow.name.ilike(pattern, escape="\\"), Workflow.description.ilike(pattern, escape="\\"))
        )
    if has_published is not None:
        query = query.where(
            Workflow.latest_version.is_not(None) if has_published else Workflow.latest_version.is_(None)
        )
    return query


async def list_workflows(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    tags: Sequence[str] = (),
    category: str | None = None,
    q: str | None = None,
    has_published: bool | None = None,
    sort: str = "-updated_at",
) -> tuple[list[Workflow], int]:
    """A page of live workflows (all given tags, the category, `q` in the name or description)."""

    def filtered(query: Select[Any]) -> Select[Any]:
        return _filtered(query, org_id, tags=tags, category=category, q=q, has_published=has_published)

    total = await session.scalar(filtered(select(func.count()).select_from(Workflow))) or 0
    column = SORTS[sort.lstrip("-")]
    order = (column.desc(), Workflow.id.desc()) if sort.startswith("-") else (column.asc(), Workflow.id.asc())
    rows = await session.scalars(filtered(select(Workflow)).order_by(*order).limit(limit).offset(offset))
    return list(rows.all()), total


async def list_tags(
    session: AsyncSession, org_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[tuple[str, int]], int]:
    """Tags of the live workflows with how many carry each, most used first."""
    live = (WorkflowTag.org_id == org_id, Workflow.deleted_at.is_(None))
    base = select(WorkflowTag.tag, func.count().label("n")).join(Workflow, Workflow.id == WorkflowTag.workflow_id)
    grouped = base.where(*live).group_by(WorkflowTag.tag)
    total = await session.scalar(select(func.count()).select_from(grouped.subquery())) or 0
    rows = await session.execute(grouped.order_by(func.count().desc(), WorkflowTag.tag).limit(limit).offset(offset))
    return [(tag, n) for tag, n in rows.all()], total


async def list_categories(
    session: AsyncSession, org_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[tuple[str, int]], int]:
    """Categories of the live workflows with their counts, most used first."""
    grouped = (
        select(Workflow.category, func.count().label("n"))
        .where(Workflow.org_id == org_id, Workflow.deleted_at.is_(None), Workflow.category.is_not(None))
        .group_by(Workflow.category)
    )
    total = await session.scalar(select(func.count()).select_from(grouped.subquery())) or 0
    rows = await session.execute(grouped.order_by(func.count().desc(), Workflow.category).limit(limit).offset(offset))
    return [(str(category), n) for category, n in rows.all()], total
