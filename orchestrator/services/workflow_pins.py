"""The version an execution pins, read without the ORM (it runs on every start).

Kept apart from `workflows.py` (drafts and publishing) and re-exported by it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.errors import Conflict, NotFound
from orchestrator.models.workflows import Workflow, WorkflowVersion

__all__ = ["PinnedVersion", "pin_version", "version_document"]


@dataclass(frozen=True)
class PinnedVersion:
    """What an execution records of the version it pins (the document is fetched only when needed)."""

    id: uuid.UUID
    number: int
    workflow_name: str


# Built once (it runs on every start), of table columns so that it runs as Core (no ORM compile
# state): the workflow, and the version asked for or else its latest.
_W, _V = Workflow.__table__.c, WorkflowVersion.__table__.c
_PIN = (
    select(_W.name, _W.latest_version, _V.id)
    .select_from(Workflow.__table__)
    .outerjoin(
        WorkflowVersion.__table__,
        (_V.workflow_id == _W.id)
        & (_V.org_id == _W.org_id)
        & (_V.number == func.coalesce(bindparam("number", type_=Integer), _W.latest_version)),
    )
    .where(_W.id == bindparam("workflow_id"), _W.org_id == bindparam("org_id"), _W.deleted_at.is_(None))
)


async def pin_version(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, number: int | None = None
) -> PinnedVersion:
    """The version an execution pins, without loading the draft or the document.

    Raises:
        NotFound: no such live workflow in the organisation, or no such version.
        Conflict: (code `not_published`) `number` is None and the workflow was never published.
    """
    row = (await session.execute(_PIN, {"org_id": org_id, "workflow_id": workflow_id, "number": number})).first()
    if row is None:
        raise NotFound(f"no workflow {workflow_id}", details={"workflow_id": str(workflow_id)})
    name, latest, version_id = row
    if number is None:
        if latest is None:
            raise Conflict(
                f"workflow '{name}' has no published version; publish it first",
                code="not_published",
                details={"workflow_id": str(workflow_id)},
            )
        number = latest
    if version_id is None:
        known = f"its latest is {latest}" if latest else "it was never published"
        raise NotFound(
            f"workflow '{name}' has no version {number} ({known})",
            details={"workflow_id": str(workflow_id), "number": number},
        )
    return PinnedVersion(version_id, number, name)


async def version_document(session: AsyncSession, version_id: uuid.UUID) -> dict[str, Any]:
    document: dict[str, Any] | None = await session.scalar(
        select(WorkflowVersion.document).where(WorkflowVersion.id == version_id)
    )
    return dict(document or {})
