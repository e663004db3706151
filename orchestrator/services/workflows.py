"""Workflows: drafts, publishing, immutable versions, rollback, clone, tags and lists.

Services take a session and only flush; the request owns the transaction. Every query is scoped
by the caller's organisation, and a workflow of another organisation (or a deleted one) is
simply not found.

For the executions area: `pin_version(session, org_id, workflow_id, number=None)` names the version
an execution pins (id, number, workflow name) without loading documents; `published_version` returns
the `WorkflowVersion` to pin (the latest when `number` is None); `version.document` is the flow
to run and `version.workflow.name` the workflow's current name. `published_version_by_name` does
the same for a `flow.call` node that names a workflow.

ETags: `"<id hex>-<draft_revision>-<latest_version or 0>"`, a strong validator of the workflow's
representation: every write bumps `draft_revision` or `latest_version`.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, Invalid, NotFound, PreconditionFailed
from orchestrator.models.workflows import Workflow, WorkflowTag, WorkflowVersion
from orchestrator.services import workflow_assets
from orchestrator.services.audit import Actor, record
from orchestrator.services.catalogue import graph_shape, step_registry
from orchestrator.services.credential_access import WorkflowScope, check_use, uses_of
from orchestrator.services.workflow_lists import SORTS, clean_tags, list_categories, list_tags, list_workflows
from orchestrator.services.workflow_pins import PinnedVersion, pin_version, version_document
from shared.flow import SCHEMA_TAG, validate_document

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

__all__ = [
    "SORTS",
    "PinnedVersion",
    "check_if_match",
    "clone_workflow",
    "create_workflow",
    "delete_workflow",
    "document_at",
    "etag",
    "etag_matches",
    "get_version",
    "get_workflow",
    "graph_shape",
    "list_categories",
    "list_tags",
    "list_versions",
    "list_workflows",
    "name_taken",
    "pin_version",
    "prepare_draft",
    "problems_of",
    "publish",
    "published_version",
    "published_version_by_name",
    "rollback",
    "set_tags",
    "step_registry",
    "update_workflow",
    "validate_draft",
    "version_document",
]


def problems_of(document: Any) -> list[dict[str, Any]]:
    """Every problem of a flow document, each `{path, message, code}` with a JSON path."""
    return [p.to_dict() for p in validate_document(document, step_registry())]


def etag(workflow: Workflow) -> str:
    return f'"{workflow.id.hex}-{workflow.draft_revision}-{workflow.latest_version or 0}"'


def etag_matches(header: str | None, current: str, *, weak: bool) -> bool:
    """Whether an If-Match (strong comparison) or If-None-Match (weak) header names `current`."""
    if header is None:
        return False
    for candidate in (part.strip() for part in header.split(",")):
        if candidate == "*":
            return True
        if weak and candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == current:
            return True
    return False


def check_if_match(workflow: Workflow, if_match: str | None) -> None:
    """Optimistic concurrency: a stale If-Match is a 412 carrying the current ETag."""
    if if_match is None:
        return
    current = etag(workflow)
    if not etag_matches(if_match, current, weak=False):
        raise PreconditionFailed(
            f"workflow '{workflow.name}' changed since you read it (If-Match {if_match} is not the current "
            f"ETag {current}); read it again and reapply your change",
            details={"etag": current},
            headers={"ETag": current},
        )


def prepare_draft(document: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The draft to store: a copy whose `name` is the workflow's name (an empty flow by default)."""
    draft = copy.deepcopy(document) if document is not None else {"schema": SCHEMA_TAG, "nodes": [], "edges": []}
    draft["name"] = name
    size = len(json.dumps(draft, default=str))
    if size > MAX_DOCUMENT_BYTES:
        raise Invalid(
            f"document: {size} bytes is more than the {MAX_DOCUMENT_BYTES} a flow may take", code="document_too_large"
        )
    return draft


async def set_tags(session: AsyncSession, workflow: Workflow, tags: Sequence[str]) -> None:
    workflow.tags = clean_tags(tags)
    await session.execute(delete(WorkflowTag).where(WorkflowTag.workflow_id == workflow.id))
    session.add_all(WorkflowTag(org_id=workflow.org_id, workflow_id=workflow.id, tag=t) for t in workflow.tags)


async def name_taken(
    session: AsyncSession, org_id: uuid.UUID, name: str, *, other_than: uuid.UUID | None = None
) -> uuid.UUID | None:
    """The live workflow of the organisation that holds `name`, if any."""
    query = select(Workflow.id).where(Workflow.org_id == org_id, Workflow.name == name, Workflow.deleted_at.is_(None))
    if other_than is not None:
        query = query.where(Workflow.id != other_than)
    return await session.scalar(query)


async def _ensure_name_free(
    session: AsyncSession, org_id: uuid.UUID, name: str, other_than: uuid.UUID | None = None
) -> None:
    if await name_taken(session, org_id, name, other_than=other_than):
        raise Conflict(
            f"name: a workflow named '{name}' already exists",
            code="name_taken",
            details={"field": "name", "name": name},
        )


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # Two requests raced for the same name; the partial unique index kept only one.
        raise Conflict(
            f"name: a workflow named '{name}' already exists",
            code="name_taken",
            details={"field": "name", "name": name},
        ) from None


async def get_workflow(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, *, for_update: bool = False
) -> Workflow:
    """A live workflow of the organisation (NotFound otherwise); `for_update` locks its row."""
    query = select(Workflow).where(Workflow.id == workflow_id, Workflow.org_id == org_id, Workflow.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    workflow = await session.scalar(query)
    if workflow is None:
        raise NotFound(f"no workflow {workflow_id}", details={"workflow_id": str(workflow_id)})
    return workflow


async def create_workflow(
    session: AsyncSession,
    org_id: uuid.UUID,
    actor: Actor,
    *,
    name: str,
    description: str = "",
    category: str | None = None,
    tags: Sequence[str] = (),
    document: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
    action: str = "workflow.create",
) -> tuple[Workflow, list[dict[str, Any]]]:
    """A new workflow whose draft is `document` (saved even when invalid) and its problems."""
    await _ensure_name_free(session, org_id, name)
    draft = prepare_draft(document, name)
    workflow = Workflow(
        org_id=org_id,
        name=name,
        description=description,
        category=category,
        tags=[],
        draft=draft,
        draft_revision=1,
        created_by=actor.id,
    )
    session.add(workflow)
    await _flush(session, name)
    await set_tags(session, workflow, tags)
    await session.flush()
    problems = problems_of(draft)
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action=action,
        target_type="workflow",
        target_id=workflow.id,
        summary={"name": name, "category": category, "tags": workflow.tags, "problems": len(problems), **(audit or {})},
    )
    return workflow, problems


def _metadata(workflow: Workflow) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "description": workflow.description,
        "category": workflow.category,
        "sla_seconds": workflow.sla_seconds,
        "tags": list(workflow.tags),
    }


async def update_workflow(
    session: AsyncSession,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    actor: Actor,
    changes: dict[str, Any],
    *,
    if_match: str | None = None,
) -> tuple[Workflow, list[dict[str, Any]]]:
    """Apply the given fields (`name`, `description`, `category`, `sla_seconds`, `tags`, `document`)."""
    workflow = await get_workflow(session, org_id, workflow_id, for_update=True)
    check_if_match(workflow, if_match)
    before = _metadata(workflow)
    changed: list[str] = []
    name = changes.get("name") or workflow.name
    if name != workflow.name:
        await _ensure_name_free(session, org_id, name, other_than=workflow.id)
        workflow.name = name
        changed.append("name")
    for field in ("description", "category", "sla_seconds"):
        if field in changes and changes[field] != getattr(workflow, field):
            if field == "description" and changes[field] is None:
                continue
            setattr(workflow, field, changes[field])
            changed.append(field)
    if changes.get("tags") is not None and clean_tags(changes["tags"]) != workflow.tags:
        await set_tags(session, workflow, changes["tags"])
        changed.append("tags")
    source = changes["document"] if changes.get("document") is not None else workflow.draft
    draft = prepare_draft(source, workflow.name)
    if draft != workflow.draft:
        workflow.draft = draft
        changed.append("draft")
    if changed:
        workflow.draft_revision += 1
        await _flush(session, workflow.name)
        after = _metadata(workflow)
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="workflow.update",
            target_type="workflow",
            target_id=workflow.id,
            summary={
                "changed": changed,
                "draft_revision": workflow.draft_revision,
                "before": {k: v for k, v in before.items() if k in changed},
                "after": {k: v for k, v in after.items() if k in changed},
            },
        )
    return workflow, problems_of(workflow.draft)


async def delete_workflow(
    session: AsyncSession,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    actor: Actor,
    *,
    if_match: str | None = None,
    action: str = "workflow.delete",
) -> Workflow:
    """Soft delete: the workflow leaves every list, its name is free again, its versions stay
    (executions that pinned one still find what they ran)."""
    workflow = await get_workflow(session, org_id, workflow_id, for_update=True)
    check_if_match(workflow, if_match)
    workflow.deleted_at = utcnow()
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action=action,
        target_type="workflow",
        target_id=workflow.id,
        summary={"name": workflow.name, "latest_version": workflow.latest_version},
    )
    return workflow


async def validate_draft(session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID) -> list[dict[str, Any]]:
    return problems_of((await get_workflow(session, org_id, workflow_id)).draft)


async def _new_version(
    session: AsyncSession,
    workflow: Workflow,
    actor: Actor,
    document: dict[str, Any],
    note: str,
    source_version: int | None = None,
    assets: dict[str, str] | None = None,
) -> WorkflowVersion:
    version = WorkflowVersion(
        org_id=workflow.org_id,
        workflow_id=workflow.id,
        workflow=workflow,
        number=(workflow.latest_version or 0) + 1,
        document=copy.deepcopy(document),
        note=note,
        source_version=source_version,
        assets=dict(assets or {}),
        created_by=actor.id,
        created_at=utcnow(),
    )
    session.add(version)
    workflow.latest_version = version.number
    workflow.updated_at = utcnow()
    await session.flush()
    return version


async def publish(
    session: AsyncSession,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    actor: Actor,
    *,
    note: str = "",
    if_match: str | None = None,
    role: str | None = None,
) -> WorkflowVersion:
    """Copy a valid draft into version n+1; an invalid draft is refused with its problems, and
    a draft reading a credential that `role` (the publisher's; None: no member) or this workflow
    may not use is refused naming it (`credential_access.check_use`)."""
    workflow = await get_workflow(session, org_id, workflow_id, for_update=True)
    check_if_match(workflow, if_match)
    problems = problems_of(workflow.draft)
    if problems:
        first = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise Invalid(
            f"the draft cannot be published: {first['path']}: {first['message']}{more}",
            code="invalid_flow",
            details={"problems": problems},
        )
    await check_use(
        session,
        org_id,
        uses_of(workflow.draft),
        role=role,
        workflow=WorkflowScope.of(workflow),
        doing="publish this flow",
    )
    assets = await workflow_assets.freeze_draft_assets(session, workflow)
    version = await _new_version(session, workflow, actor, workflow.draft, note, assets=assets)
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="workflow.publish",
        target_type="workflow",
        target_id=workflow.id,
        summary={
            "name": workflow.name,
            "version": version.number,
            "note": note,
            "draft_revision": workflow.draft_revision,
        },
    )
    return version


async def rollback(
    session: AsyncSession,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    number: int,
    actor: Actor,
    *,
    note: str = "",
    if_match: str | None = None,
    role: str | None = None,
) -> WorkflowVersion:
    """Publish a copy of version `number` as a new version, and make it the draft too (checked
    like `publish`)."""
    workflow = await get_workflow(session, org_id, workflow_id, for_update=True)
    check_if_match(workflow, if_match)
    source = await get_version(session, org_id, workflow_id, number)
    document = prepare_draft(source.document, workflow.name)
    await check_use(
        session, org_id, uses_of(document), role=role, workflow=WorkflowScope.of(workflow), doing="publish this flow"
    )
    assets = dict(source.assets or {})
    version = await _new_version(
        session,
        workflow,
        actor,
        document,
        note or f"rollback to version {number}",
        source_version=number,
        assets=assets,
    )
    await workflow_assets.set_draft_assets(session, workflow, assets)
    workflow.draft = copy.deepcopy(document)
    workflow.draft_revision += 1
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="workflow.rollback",
        target_type="workflow",
        target_id=workflow.id,
        summary={"name": workflow.name, "version": version.number, "source_version": number},
    )
    return version


async def list_versions(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[WorkflowVersion], int]:
    """Newest first."""
    await get_workflow(session, org_id, workflow_id)
    where = (WorkflowVersion.org_id == org_id, WorkflowVersion.workflow_id == workflow_id)
    total = await session.scalar(select(func.count()).select_from(WorkflowVersion).where(*where)) or 0
    rows = await session.scalars(
        select(WorkflowVersion).where(*where).order_by(WorkflowVersion.number.desc()).limit(limit).offset(offset)
    )
    return list(rows.all()), total


async def get_version(session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, number: int) -> WorkflowVersion:
    workflow = await get_workflow(session, org_id, workflow_id)
    version = await session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.org_id == org_id,
            WorkflowVersion.workflow_id == workflow_id,
            WorkflowVersion.number == number,
        )
    )
    if version is None:
        latest = f"its latest is {workflow.latest_version}" if workflow.latest_version else "it was never published"
        raise NotFound(
            f"workflow '{workflow.name}' has no version {number} ({latest})",
            details={"workflow_id": str(workflow_id), "number": number},
        )
    return version


async def published_version(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, number: int | None = None
) -> WorkflowVersion:
    """The version an execution pins: version `number`, or the latest when None (`pin_version`,
    then the whole row with its document).

    Raises:
        NotFound: no such live workflow in the organisation, or no such version.
        Conflict: (code `not_published`) `number` is None and the workflow was never published.
    """
    pinned = await pin_version(session, org_id, workflow_id, number)
    version = await session.get(WorkflowVersion, pinned.id)
    assert version is not None  # found a moment ago in this transaction; versions are never deleted
    return version


async def published_version_by_name(
    session: AsyncSession, org_id: uuid.UUID, name: str, number: int | None = None
) -> WorkflowVersion:
    """For a `flow.call` node naming a workflow: its published version (the latest when None).

    Raises:
        NotFound: no live workflow of that name in the organisation, or no such version.
        Conflict: (code `not_published`) it was never published.
    """
    workflow_id = await name_taken(session, org_id, name)
    if workflow_id is None:
        raise NotFound(f"no workflow named '{name}'", details={"name": name})
    return await published_version(session, org_id, workflow_id, number)


async def document_at(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, ref: int | str
) -> dict[str, Any]:
    """The draft (`ref == "draft"`) or the document of version `ref`."""
    if ref == "draft":
        return (await get_workflow(session, org_id, workflow_id)).draft
    return (await get_version(session, org_id, workflow_id, int(ref))).document


async def clone_workflow(
    session: AsyncSession,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    actor: Actor,
    *,
    name: str,
    description: str | None = None,
    version: int | None = None,
) -> tuple[Workflow, list[dict[str, Any]]]:
    """A new workflow with a copy of the draft (or of a published version) and the metadata;
    it starts with no versions of its own."""
    source = await get_workflow(session, org_id, workflow_id)
    document = source.draft if version is None else (await get_version(session, org_id, workflow_id, version)).document
    return await create_workflow(
        session,
        org_id,
        actor,
        name=name,
        description=source.description if description is None else description,
        category=source.category,
        tags=source.tags,
        document=document,
        action="workflow.clone",
        audit={"source_id": str(source.id), "source_name": source.name, "source_version": version},
    )
