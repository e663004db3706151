"""The vault's key management: the master key ring, per-organisation data keys, and
re-wrapping every data key under a new master key (`rpa vault rotate-master-key`).

Data keys are unwrapped only in memory, for the request that needs one; nothing caches them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.db.session import Database
from orchestrator.errors import ApiError
from orchestrator.models.vault import DataKey
from orchestrator.security.crypto import (
    CryptoError,
    KeyRing,
    MasterKey,
    UnknownMasterKey,
    data_key_aad,
    load_keyring,
    new_data_key,
)
from orchestrator.services.audit import insert_ignoring_conflict
from orchestrator.settings import Settings


class VaultUnavailable(ApiError):
    status = 503
    code = "vault_unavailable"


class VaultError(ApiError):
    status = 500
    code = "vault_error"


def keyring_for(settings: Settings, started_with: str | None = None) -> KeyRing:
    """The master keys this process may use now (see `crypto.load_keyring`).

    Raises:
        VaultUnavailable: No usable master key.
    """
    try:
        return load_keyring(
            data_dir=settings.data_dir,
            env_key=settings.master_key.get_secret_value() if settings.master_key else None,
            env_previous=settings.master_key_previous.get_secret_value() if settings.master_key_previous else None,
            started_with=started_with,
        )
    except (CryptoError, PermissionError) as exc:
        raise VaultUnavailable(f"the vault's master key is not usable: {exc}") from None


def as_keyring(master_key: KeyRing | str) -> KeyRing:
    return master_key if isinstance(master_key, KeyRing) else KeyRing(MasterKey.from_text(master_key))


# --- data keys --------------------------------------------------------------------------------


def unwrap_data_key(ring: KeyRing, row: DataKey) -> bytes:
    try:
        return ring.unwrap(row.wrapped, row.master_key_id, data_key_aad(row.org_id, row.version))
    except UnknownMasterKey as exc:
        raise VaultUnavailable(
            f"{exc}; configure it (RPA_MASTER_KEY_PREVIOUS) until the rotation is finished",
            details={"master_key_id": exc.key_id},
        ) from None
    except CryptoError:
        raise VaultError(f"data key version {row.version} does not authenticate under its master key") from None


async def active_data_key(session: AsyncSession, org_id: uuid.UUID, ring: KeyRing) -> tuple[int, bytes]:
    """(version, key) new values are encrypted under; the first use creates version 1."""
    query = select(DataKey).where(DataKey.org_id == org_id, DataKey.active.is_(True))
    row = await session.scalar(query)
    if row is None:
        wrapped, key_id = ring.wrap(new_data_key(), data_key_aad(org_id, 1))
        # A concurrent first use inserts the same version: one wins, the other reads the winner's.
        await session.execute(
            insert_ignoring_conflict(
                session,
                DataKey.__table__,
                {
                    "id": uuid.uuid4(),
                    "org_id": org_id,
                    "version": 1,
                    "wrapped": wrapped,
                    "master_key_id": key_id,
                    "active": True,
                    "created_at": utcnow(),
                },
            )
        )
        row = (await session.scalars(query.execution_options(populate_existing=True))).one()
    return row.version, unwrap_data_key(ring, row)


async def data_keys(session: AsyncSession, org_id: uuid.UUID, ring: KeyRing) -> dict[int, bytes]:
    """Every data key version of the organisation, unwrapped."""
    rows = await session.scalars(select(DataKey).where(DataKey.org_id == org_id))
    return {row.version: unwrap_data_key(ring, row) for row in rows}


# --- master key rotation ----------------------------------------------------------------------


async def rewrap_org(session: AsyncSession, org_id: uuid.UUID, ring: KeyRing, new_key: MasterKey) -> int:
    """Re-wrap the organisation's data keys under `new_key`; returns how many changed."""
    rows = (await session.scalars(select(DataKey).where(DataKey.org_id == org_id).with_for_update())).all()
    changed = 0
    for row in rows:
        if row.master_key_id == new_key.key_id:
            continue
        aad = data_key_aad(org_id, row.version)
        row.wrapped, row.master_key_id = ring.wrap(unwrap_data_key(ring, row), aad, using=new_key)
        row.rewrapped_at = utcnow()
        changed += 1
    await session.flush()
    return changed


@dataclass
class RewrapReport:
    new_key_id: str
    organisations: int = 0
    rewrapped: int = 0
    passes: int = 0
    left: dict[str, int] = field(default_factory=dict)
    """Data keys still under another master key after the last pass (written meanwhile by a
    server that does not know the new key yet), by master key id."""


async def usage_by_master_key(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(DataKey.master_key_id, func.count()).group_by(DataKey.master_key_id))
    return {key_id: count for key_id, count in rows.all()}


async def unreadable_data_keys(session: AsyncSession, ring: KeyRing) -> list[tuple[uuid.UUID, int, str]]:
    """(org, version, master key id) of every data key `ring` cannot unwrap."""
    bad = []
    for row in await session.scalars(select(DataKey)):
        try:
            ring.unwrap(row.wrapped, row.master_key_id, data_key_aad(row.org_id, row.version))
        except CryptoError:
            bad.append((row.org_id, row.version, row.master_key_id))
    return bad


async def rewrap_all(db: Database, ring: KeyRing, new_key: MasterKey, *, max_passes: int = 3) -> RewrapReport:
    """Re-wrap every data key under `new_key`, one transaction per organisation, so servers
    keep working throughout (each organisation is locked only while its few keys are re-wrapped).
    Passes repeat while data keys under another master key remain (created meanwhile)."""
    ring = ring.with_key(new_key)
    report = RewrapReport(new_key.key_id)
    stale = DataKey.master_key_id != new_key.key_id
    touched: set[uuid.UUID] = set()
    for _ in range(max_passes):
        async with db.transaction() as session:
            org_ids = (await session.scalars(select(DataKey.org_id).where(stale).distinct())).all()
        if not org_ids:
            break
        report.passes += 1
        for org_id in org_ids:
            async with db.transaction() as session:
                count = await rewrap_org(session, org_id, ring, new_key)
            report.rewrapped += count
            if count:
                touched.add(org_id)
    report.organisations = len(touched)
    async with db.transaction() as session:
        report.left = {
            key_id: count for key_id, count in (await usage_by_master_key(session)).items() if key_id != new_key.key_id
        }
    return report
