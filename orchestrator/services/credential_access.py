"""Who may use a credential: the roles that may publish or start a flow reading it, and the
workflows (by id, category or tag) whose executions may receive it.

Masking hides a secret's common forms in what a run reports, but a flow can always transform a
value past any masker (`{{ secrets.x | upper }}`, a slice, a join). So using a credential is
access control, checked where a person makes a flow read it:

- publishing (or rolling back to) a version that reads a credential needs a role the credential
  allows, and the workflow must be within the credential's workflow scope;
- starting (or retrying) an execution of such a version needs the same of the starter;
- the dispatcher reveals a value only for a workflow still within the scope (`in_scope`).

A refusal names the credential and the node path of every template that reads it.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.errors import Forbidden
from orchestrator.models.vault import Credential
from orchestrator.models.workflows import Workflow
from orchestrator.services.catalogue import step_registry
from shared.expressions import find_secret_uses
from shared.flow import find_credential_params

__all__ = [
    "ANY_ROLE",
    "DEFAULT_ROLES",
    "CredentialUses",
    "WorkflowScope",
    "cached_uses",
    "check_use",
    "in_scope",
    "node_path",
    "uses_of",
    "uses_of_version",
    "workflow_scope",
]

ANY_ROLE = "*"
"""In a credential's `roles`: members of every role may use it (what credentials stored before
access control was added were given)."""
DEFAULT_ROLES = ("owner", "admin")
"""The roles a new credential allows when its creator names none."""

CredentialUses = dict[str, list[str]]
"""Credential name -> the node paths of the templates that read it."""


def node_path(document: Mapping[str, Any], path: Sequence[str | int]) -> str:
    """A template's location as a person reads it: the ids of the nodes that hold it (joined
    with `/`, as the engine names node instances), then the field inside the last one
    (`loop/fill_form: params.text`); a template outside any node keeps its document path."""
    ids: list[str] = []
    field: list[str] = []
    cursor: Any = document
    index = 0
    while index < len(path):
        part = path[index]
        if part == "nodes" and index + 1 < len(path) and isinstance(cursor, Mapping):
            nodes = cursor.get("nodes")
            position = path[index + 1]
            if isinstance(nodes, list) and isinstance(position, int) and position < len(nodes):
                cursor = nodes[position]
                ids.append(str(cursor.get("id", position)) if isinstance(cursor, Mapping) else str(position))
                field = []
                index += 2
                continue
        field.append(str(part))
        cursor = (
            cursor.get(part)
            if isinstance(cursor, Mapping)
            else (cursor[part] if isinstance(cursor, list) and isinstance(part, int) and part < len(cursor) else None)
        )
        index += 1
    where = ".".join(field)
    return f"{'/'.join(ids)}: {where}" if ids else where


def uses_of(document: Mapping[str, Any]) -> CredentialUses:
    """The credentials a flow document uses, each with the node paths that use it: read by a
    template (`secrets.erp.username` reads credential `erp`) or named by a step param marked as
    holding a credential name (`shared.steps.CREDENTIAL_NAME`)."""
    uses: CredentialUses = {}
    # Templates that read `secrets.erp`, and params that name a credential (`auth.credential:
    # "erp"`): both make the flow use `erp`, so both are delivered and both need access.
    named = find_credential_params(dict(document), step_registry())
    for name, paths in [*find_secret_uses(dict(document)).items(), *named.items()]:
        credential = name.split(".", 1)[0]
        found = uses.setdefault(credential, [])
        found.extend(p for p in (node_path(document, path) for path in paths) if p not in found)
    return uses


_VERSION_USES: OrderedDict[uuid.UUID, CredentialUses] = OrderedDict()
_KEPT = 512


def cached_uses(version_id: uuid.UUID) -> CredentialUses | None:
    """What `uses_of_version` found for this version before, if it did."""
    return _VERSION_USES.get(version_id)


def uses_of_version(version_id: uuid.UUID, document: Mapping[str, Any]) -> CredentialUses:
    """`uses_of` for a published version (immutable: computed once per process)."""
    cached = _VERSION_USES.get(version_id)
    if cached is None:
        cached = _VERSION_USES[version_id] = uses_of(document)
        if len(_VERSION_USES) > _KEPT:
            _VERSION_USES.popitem(last=False)
    else:
        _VERSION_USES.move_to_end(version_id)
    return cached


@dataclass(frozen=True)
class WorkflowScope:
    """What a credential's workflow scope is matched against."""

    id: uuid.UUID
    category: str | None
    tags: tuple[str, ...]

    @classmethod
    def of(cls, workflow: Workflow) -> WorkflowScope:
        return cls(workflow.id, workflow.category, tuple(workflow.tags or ()))


def in_scope(access: Mapping[str, Any] | None, workflow: WorkflowScope) -> bool:
    """Whether `workflow` is within a credential's workflow scope (no ids, categories or tags:
    every workflow of the organisation)."""
    access = access or {}
    ids = {str(item) for item in access.get("workflows") or ()}
    categories = set(access.get("categories") or ())
    tags = set(access.get("tags") or ())
    if not (ids or categories or tags):
        return True
    return (
        str(workflow.id) in ids
        or (workflow.category is not None and workflow.category in categories)
        or bool(tags.intersection(workflow.tags))
    )


def role_allowed(access: Mapping[str, Any] | None, role: str) -> bool:
    roles = (access or {}).get("roles") or ()
    return ANY_ROLE in roles or role in roles


async def workflow_scope(session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID) -> WorkflowScope:
    """What the workflow's id, category and tags are now."""
    row = (
        await session.execute(
            select(Workflow.category, Workflow.tags).where(Workflow.id == workflow_id, Workflow.org_id == org_id)
        )
    ).first()
    return WorkflowScope(workflow_id, row.category if row else None, tuple(row.tags or ()) if row else ())


async def check_use(
    session: AsyncSession,
    org_id: uuid.UUID,
    uses: CredentialUses,
    *,
    role: str | None,
    workflow: WorkflowScope | uuid.UUID,
    doing: str,
) -> list[str]:
    """Check that `role` may make `workflow` read the credentials in `uses`; returns their names.

    A name that is not a live credential of the organisation passes here (the dispatcher fails
    the execution that needs it, naming it); `role` None is a start by no member (the role
    check is skipped, the workflow scope is not).

    Raises:
        Forbidden: (code `credential_not_allowed`) naming each credential, why, and where the
            flow reads it.
    """
    if not uses:
        return []
    rows = (
        await session.execute(
            select(Credential.name, Credential.access).where(
                Credential.org_id == org_id, Credential.name.in_(list(uses)), Credential.deleted_at.is_(None)
            )
        )
    ).all()
    scope = workflow if isinstance(workflow, WorkflowScope) else None
    refused: list[dict[str, Any]] = []
    for name, access in sorted(rows, key=lambda row: str(row.name)):
        reason = None
        if role is not None and not role_allowed(access, role):
            reason = f"role '{role}' may not use it"
        else:
            if scope is None and access and any(access.get(k) for k in ("workflows", "categories", "tags")):
                scope = await workflow_scope(session, org_id, workflow)  # type: ignore[arg-type]
            if scope is not None and not in_scope(access, scope):
                reason = "this workflow is outside its workflow scope"
        if reason is not None:
            refused.append({"credential": name, "reason": reason, "nodes": uses[name]})
    if refused:
        first = refused[0]
        more = f" (+{len(refused) - 1} more)" if len(refused) > 1 else ""
        raise Forbidden(
            f"cannot {doing}: credential '{first['credential']}': {first['reason']} "
            f"(read at {'; '.join(first['nodes'])}){more}",
            code="credential_not_allowed",
            details={"credentials": refused},
        )
    return sorted(uses)
