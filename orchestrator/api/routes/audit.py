"""The /audit resource: the organisation's audit log, read-only, and its verification.

There is deliberately no route that changes or deletes an entry (and the database refuses to).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from orchestrator.api.deps import PageDep, SessionDep, require
from orchestrator.errors import NotFound
from orchestrator.schemas.audit import AuditEntryPublic, AuditProblemPublic, AuditVerificationPublic
from orchestrator.schemas.pagination import Page
from orchestrator.security import audit_keys
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import audit
from orchestrator.services.audit_checkpoints import checkpoint_dir, latest

router = APIRouter(prefix="/audit", tags=["audit"])

Reader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.get("", response_model=Page[AuditEntryPublic], summary="List audit entries, newest first")
async def list_entries(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    action: Annotated[
        str | None, Query(max_length=100, description="Exact, or a prefix ending in * (credential.*).")
    ] = None,
    actor: Annotated[str | None, Query(max_length=320, description="The actor's e-mail or id.")] = None,
    target_type: Annotated[str | None, Query(max_length=50)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(alias="from", description="Inclusive.")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Exclusive.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Action, actor or target contains.")] = None,
) -> Page[AuditEntryPublic]:
    filters = audit.AuditFilter(
        action=action, actor=actor, target_type=target_type, target_id=target_id, since=since, until=until, q=q
    )
    rows, (total, capped) = await audit.list_entries(
        session, principal.org_id, filters, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[AuditEntryPublic.model_validate(row) for row in rows],
        total=total,
        total_capped=capped,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/verify",
    response_model=AuditVerificationPublic,
    summary="Check the organisation's chain for edited, removed or inserted entries",
)
async def verify(principal: Reader, session: SessionDep, request: Request) -> AuditVerificationPublic:
    chain = audit.chain_of(principal.org_id)
    keys = audit_keys.active()
    last = latest(checkpoint_dir(request.app.state.settings.data_dir), chain, keys.public_keys)
    result = await audit.verify_chain(
        session, chain, anchor=last.anchor if last else None, expect_entries=True, keys=keys
    )
    return AuditVerificationPublic(
        chain=result.chain,
        ok=result.ok,
        checked=result.checked,
        head_seq=result.head_seq,
        truncated=result.truncated,
        problems=[AuditProblemPublic(seq=p.seq, problem=p.problem, id=p.id) for p in result.problems],
        keyed_from=result.keyed_from,
        unkeyed=result.unkeyed,
        checkpoint_seq=result.checkpoint_seq,
    )


@router.get("/{entry_id}", response_model=AuditEntryPublic, summary="One audit entry")
async def get(entry_id: uuid.UUID, principal: Reader, session: SessionDep) -> AuditEntryPublic:
    entry = await audit.get_entry(session, principal.org_id, entry_id)
    if entry is None:
        raise NotFound(f"no audit entry {entry_id}")
    return AuditEntryPublic.model_validate(entry)
