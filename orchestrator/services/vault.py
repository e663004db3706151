"""The credential vault: envelope-encrypted credentials and the rotation of their data keys
(key management lives in `vault_keys`).

Invariants:
- A value exists in clear only in this process's memory: it is AES-256-GCM ciphertext under the
  organisation's active data key in the database, and the data key is stored only wrapped by a
  master key (`orchestrator.security.crypto`).
- No user-facing function returns a value; `reveal` is for the dispatch of a job that uses the
  credentials, never for a route.
- Every value accepted or revealed is remembered by the log masker (`orchestrator.logging`).
- Audit summaries carry names, kinds, descriptions and labels only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, Forbidden, Invalid, NotFound
from orchestrator.logging import remember
from orchestrator.models.identity import Role
from orchestrator.models.vault import Credential, DataKey
from orchestrator.schemas.vault import (
    VALUE_MODELS,
    CredentialAccess,
    CredentialCreate,
    CredentialKind,
    CredentialUpdate,
)
from orchestrator.security.crypto import (
    CryptoError,
    KeyRing,
    credential_aad,
    data_key_aad,
    decrypt,
    encrypt,
    new_data_key,
)
from orchestrator.services.audit import Actor, record
from orchestrator.services.credential_access import ANY_ROLE, WorkflowScope, in_scope
from orchestrator.services.vault_keys import (
    VaultError,
    VaultUnavailable,
    active_data_key,
    as_keyring,
    data_keys,
    keyring_for,
    unwrap_data_key,
)
from shared.expressions import flatten_credentials

__all__ = [
    "DataKeyRotation",
    "VaultError",
    "VaultUnavailable",
    "create_credential",
    "delete_credential",
    "get_credential",
    "keyring_for",
    "list_credentials",
    "parse_value",
    "reveal",
    "rotate_credential",
    "rotate_data_key",
    "secrets_for_agent",
    "update_credential",
]

PAD_TO = 64
"""Plaintexts are padded to a multiple of this, so a ciphertext's length says little about its value."""


# --- values -----------------------------------------------------------------------------------


def parse_value(kind: CredentialKind, raw: dict[str, Any]) -> dict[str, Any]:
    """The value checked against its kind's shape. Errors name fields, never values."""
    model: type[BaseModel] = VALUE_MODELS[kind]
    try:
        return model.model_validate(raw).model_dump()
    except ValidationError as exc:
        details = [
            {"location": "body:value" + "".join(f".{part}" for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors(include_input=False, include_url=False)
        ]
        first = details[0]
        more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
        raise Invalid(
            f"{first['location']}: {first['message']}{more} (a {kind.value} value)", details=details
        ) from None


def _seal(key: bytes, org_id: uuid.UUID, credential_id: uuid.UUID, value: dict[str, Any]) -> tuple[bytes, bytes]:
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    plain += b" " * (-len(plain) % PAD_TO)  # JSON ignores trailing blanks
    return encrypt(key, plain, credential_aad(org_id, credential_id))


def _open(key: bytes, credential: Credential) -> dict[str, Any]:
    try:
        plain = decrypt(key, credential.nonce, credential.ciphertext, credential_aad(credential.org_id, credential.id))
    except CryptoError:
        raise VaultError(f"credential '{credential.name}' does not authenticate (altered or moved)") from None
    value: dict[str, Any] = json.loads(plain)
    return value


# --- credentials ------------------------------------------------------------------------------


def _metadata(credential: Credential) -> dict[str, Any]:
    return {
        "name": credential.name,
        "kind": credential.kind,
        "description": credential.description,
        "metadata": dict(credential.labels or {}),
        "access": dict(credential.access or {}),
    }


async def _access(session: AsyncSession, org_id: uuid.UUID, access: CredentialAccess) -> dict[str, Any]:
    """The stored form of `access`, its roles checked against the organisation's."""
    wanted = [role for role in access.roles if role != ANY_ROLE]
    if wanted:
        known = set(
            (
                await session.scalars(
                    select(Role.name).where(or_(Role.org_id.is_(None), Role.org_id == org_id), Role.name.in_(wanted))
                )
            ).all()
        )
        unknown = [role for role in wanted if role not in known]
        if unknown:
            raise Invalid(
                f"body:access.roles: no role named {', '.join(repr(r) for r in unknown)} in this organisation",
                details=[{"location": "body:access.roles", "message": f"unknown role '{r}'"} for r in unknown],
            )
    return access.model_dump(mode="json")


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        if "data_key" in str(exc.orig).lower() or "foreign key" in str(exc.orig).lower():
            raise Conflict("the organisation's data key was rotated meanwhile; retry") from None
        raise Conflict(f"a credential named '{name}' already exists", details={"field": "name"}) from None


async def create_credential(
    session: AsyncSession, org_id: uuid.UUID, data: CredentialCreate, ring: KeyRing, actor: Actor
) -> Credential:
    value = parse_value(data.kind, data.value)
    remember(value)
    if await session.scalar(
        select(Credential.id).where(
            Credential.org_id == org_id, Credential.name == data.name, Credential.deleted_at.is_(None)
        )
    ):
        raise Conflict(f"a credential named '{data.name}' already exists", details={"field": "name"})
    access = await _access(session, org_id, data.access)
    version, key = await active_data_key(session, org_id, ring)
    credential_id = uuid.uuid4()
    nonce, ciphertext = _seal(key, org_id, credential_id, value)
    credential = Credential(
        id=credential_id,
        org_id=org_id,
        name=data.name,
        kind=data.kind.value,
        description=data.description,
        labels=dict(data.metadata),
        access=access,
        ciphertext=ciphertext,
        nonce=nonce,
        data_key_version=version,
        created_by=actor.id,
        updated_by=actor.id,
    )
    session.add(credential)
    await _flush(session, data.name)
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="credential.create",
        target_type="credential",
        target_id=credential.id,
        summary=_metadata(credential),
    )
    return credential


async def list_credentials(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    kind: CredentialKind | None = None,
    q: str | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Credential], int]:
    where = [Credential.org_id == org_id, Credential.deleted_at.is_(None)]
    if kind is not None:
        where.append(Credential.kind == kind.value)
    if q:
        pattern = f"%{q.lower()}%"
        where.append(or_(func.lower(Credential.name).like(pattern), func.lower(Credential.description).like(pattern)))
    total = await session.scalar(select(func.count()).select_from(Credential).where(*where)) or 0
    rows = await session.scalars(select(Credential).where(*where).order_by(Credential.name).limit(limit).offset(offset))
    return rows.all(), total


async def get_credential(session: AsyncSession, org_id: uuid.UUID, credential_id: uuid.UUID) -> Credential:
    credential = await session.scalar(
        select(Credential).where(
            Credential.id == credential_id, Credential.org_id == org_id, Credential.deleted_at.is_(None)
        )
    )
    if credential is None:
        raise NotFound(f"no credential {credential_id}")
    return credential


async def update_credential(
    session: AsyncSession, org_id: uuid.UUID, credential_id: uuid.UUID, data: CredentialUpdate, actor: Actor
) -> Credential:
    credential = await get_credential(session, org_id, credential_id)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if data.description is not None and data.description != credential.description:
        before["description"], after["description"] = credential.description, data.description
        credential.description = data.description
    if data.metadata is not None and data.metadata != credential.labels:
        before["metadata"], after["metadata"] = dict(credential.labels or {}), dict(data.metadata)
        credential.labels = dict(data.metadata)
    if data.access is not None:
        access = await _access(session, org_id, data.access)
        if access != credential.access:
            before["access"], after["access"] = dict(credential.access or {}), access
            credential.access = access
    if after:
        credential.updated_by = actor.id
        await session.flush()
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="credential.update",
            target_type="credential",
            target_id=credential.id,
            summary={"name": credential.name, "before": before, "after": after},
        )
    return credential


async def rotate_credential(
    session: AsyncSession,
    org_id: uuid.UUID,
    credential_id: uuid.UUID,
    raw_value: dict[str, Any],
    ring: KeyRing,
    actor: Actor,
) -> Credential:
    """Replace the value (encrypted under the active data key)."""
    credential = await get_credential(session, org_id, credential_id)
    value = parse_value(CredentialKind(credential.kind), raw_value)
    remember(value)
    version, key = await active_data_key(session, org_id, ring)
    credential.nonce, credential.ciphertext = _seal(key, org_id, credential.id, value)
    credential.data_key_version = version
    credential.rotated_at = utcnow()
    credential.updated_by = actor.id
    await _flush(session, credential.name)
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="credential.rotate",
        target_type="credential",
        target_id=credential.id,
        summary={"name": credential.name, "kind": credential.kind},
    )
    return credential


async def delete_credential(session: AsyncSession, org_id: uuid.UUID, credential_id: uuid.UUID, actor: Actor) -> None:
    """Soft delete; the ciphertext is wiped, so the value cannot be recovered from this row."""
    credential = await get_credential(session, org_id, credential_id)
    credential.deleted_at = utcnow()
    credential.ciphertext, credential.nonce, credential.data_key_version = b"", b"", None
    credential.updated_by = actor.id
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="credential.delete",
        target_type="credential",
        target_id=credential.id,
        summary={"name": credential.name, "kind": credential.kind},
    )


async def reveal(
    session: AsyncSession,
    org_id: uuid.UUID,
    names: Iterable[str],
    master_key: KeyRing | str,
    *,
    actor: Actor | None = None,
    purpose: str = "",
    workflow: WorkflowScope | None = None,
) -> dict[str, dict[str, Any]]:
    """The values of the named credentials, for the dispatch of a job that uses them. Never
    expose this on a user route.

    Every revealed value is remembered by the log masker first. With an `actor`, a
    `credential.reveal` entry (names only) is audited.

    Raises:
        NotFound: Some names are not live credentials of the organisation (`details.missing`).
        Forbidden: (code `credential_not_allowed`) `workflow` is outside the workflow scope of
            one of them (narrowed since the execution was started); nothing is revealed.
    """
    wanted = set(names)
    if not wanted:
        return {}
    ring = as_keyring(master_key)
    rows = (
        await session.scalars(
            select(Credential).where(
                Credential.org_id == org_id, Credential.name.in_(wanted), Credential.deleted_at.is_(None)
            )
        )
    ).all()
    missing = sorted(wanted - {row.name for row in rows})
    if missing:
        raise NotFound(f"no credential named {', '.join(repr(n) for n in missing)}", details={"missing": missing})
    if workflow is not None:
        outside = sorted(row.name for row in rows if not in_scope(row.access, workflow))
        if outside:
            raise Forbidden(
                f"credential {', '.join(repr(n) for n in outside)} may not be used by this workflow "
                "(outside its workflow scope)",
                code="credential_not_allowed",
                details={"credentials": outside},
            )
    keys = await data_keys(session, org_id, ring)
    values: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = keys.get(row.data_key_version or -1)
        if key is None:
            raise VaultError(f"credential '{row.name}' names a data key version that does not exist")
        values[row.name] = _open(key, row)
        remember(values[row.name])
    if actor is not None:
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="credential.reveal",
            target_type="credential",
            target_id="",
            summary={"names": sorted(wanted), "purpose": purpose},
        )
    return values


# --- rotation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataKeyRotation:
    org_id: uuid.UUID
    old_version: int
    new_version: int
    reencrypted: int
    dropped_versions: list[int]


async def rotate_data_key(session: AsyncSession, org_id: uuid.UUID, ring: KeyRing) -> DataKeyRotation:
    """A new data key version for the organisation; every live value is re-encrypted under it
    and the versions nothing uses any more are dropped (so old ciphertexts left in backups or
    free pages cannot be opened with this database's keys)."""
    rows = (await session.scalars(select(DataKey).where(DataKey.org_id == org_id).with_for_update())).all()
    keys = {row.version: unwrap_data_key(ring, row) for row in rows}
    old_version = next((row.version for row in rows if row.active), 0)
    new_version = max(keys, default=0) + 1
    fresh = new_data_key()
    wrapped, key_id = ring.wrap(fresh, data_key_aad(org_id, new_version))
    for row in rows:
        row.active = False
    await session.flush()  # one active version at a time, even within the transaction
    session.add(DataKey(org_id=org_id, version=new_version, wrapped=wrapped, master_key_id=key_id, active=True))
    await session.flush()
    credentials = (
        await session.scalars(
            select(Credential).where(Credential.org_id == org_id, Credential.deleted_at.is_(None)).with_for_update()
        )
    ).all()
    for credential in credentials:
        key = keys.get(credential.data_key_version or -1)
        if key is None:
            raise VaultError(f"credential '{credential.name}' names a data key version that does not exist")
        credential.nonce, credential.ciphertext = _seal(fresh, org_id, credential.id, _open(key, credential))
        credential.data_key_version = new_version
    await session.flush()
    unused = and_(
        DataKey.org_id == org_id,
        DataKey.version != new_version,
        ~exists().where(Credential.org_id == org_id, Credential.data_key_version == DataKey.version),
    )
    dropped = sorted((await session.scalars(select(DataKey.version).where(unused))).all())
    await session.execute(delete(DataKey).where(unused).execution_options(synchronize_session=False))
    return DataKeyRotation(org_id, old_version, new_version, len(credentials), dropped)


def secrets_for_agent(values: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Flatten credential values for the engine's `secrets.NAME` lookups (see
    `shared.expressions.flatten_credentials`)."""
    return flatten_credentials(values)
