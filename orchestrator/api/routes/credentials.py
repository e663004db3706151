"""The /credentials resource: the vault's metadata. No route returns a secret value; values
reach an agent only with a job that uses them (`services.vault.reveal`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from orchestrator.api.deps import PageDep, SessionDep, client_ip, require
from orchestrator.schemas.pagination import Page
from orchestrator.schemas.vault import (
    CredentialCreate,
    CredentialKind,
    CredentialPublic,
    CredentialRotate,
    CredentialUpdate,
)
from orchestrator.security.crypto import KeyRing
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import vault
from orchestrator.services.audit import Actor

router = APIRouter(prefix="/credentials", tags=["credentials"])

Reader = Annotated[Principal, Depends(require(Permission.CREDENTIALS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.CREDENTIALS_MANAGE))]


def get_keyring(request: Request) -> KeyRing:
    return vault.keyring_for(request.app.state.settings, request.app.state.master_key)


KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]


def _actor(principal: Principal, request: Request) -> Actor:
    return Actor(principal.user_id, principal.email, client_ip(request), getattr(request.state, "request_id", None))


def _public(credential: object) -> CredentialPublic:
    return CredentialPublic.model_validate(credential)


@router.post("", response_model=CredentialPublic, status_code=201, summary="Store a credential (its value encrypted)")
async def create(
    body: CredentialCreate, principal: Manager, session: SessionDep, ring: KeyRingDep, request: Request
) -> CredentialPublic:
    credential = await vault.create_credential(session, principal.org_id, body, ring, _actor(principal, request))
    return _public(credential)


@router.get("", response_model=Page[CredentialPublic], summary="List credentials (metadata only)")
async def list_credentials(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[CredentialKind | None, Query(description="Only this kind.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Name or description contains.")] = None,
) -> Page[CredentialPublic]:
    rows, total = await vault.list_credentials(
        session, principal.org_id, kind=kind, q=q, limit=page.limit, offset=page.offset
    )
    return Page(items=[_public(row) for row in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{credential_id}", response_model=CredentialPublic, summary="A credential's metadata")
async def get(credential_id: uuid.UUID, principal: Reader, session: SessionDep) -> CredentialPublic:
    return _public(await vault.get_credential(session, principal.org_id, credential_id))


@router.patch("/{credential_id}", response_model=CredentialPublic, summary="Change description or labels")
async def update(
    credential_id: uuid.UUID, body: CredentialUpdate, principal: Manager, session: SessionDep, request: Request
) -> CredentialPublic:
    credential = await vault.update_credential(
        session, principal.org_id, credential_id, body, _actor(principal, request)
    )
    return _public(credential)


@router.post("/{credential_id}/rotate", response_model=CredentialPublic, summary="Replace a credential's value")
async def rotate(
    credential_id: uuid.UUID,
    body: CredentialRotate,
    principal: Manager,
    session: SessionDep,
    ring: KeyRingDep,
    request: Request,
) -> CredentialPublic:
    credential = await vault.rotate_credential(
        session, principal.org_id, credential_id, body.value, ring, _actor(principal, request)
    )
    return _public(credential)


@router.delete("/{credential_id}", status_code=204, summary="Delete a credential (its value is wiped)")
async def delete(credential_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request) -> None:
    await vault.delete_credential(session, principal.org_id, credential_id, _actor(principal, request))
