"""Execution artifacts: files kept in the artifact store (a folder or an fsspec URL, see
`artifact_store`), described by `Artifact` rows.

A stored file's key is made here — `<org_id>/<execution_id>/<artifact_id>` — never from a name a
client or agent chose, and every read checks that the key stays inside the store's root, so a row
that was tampered with cannot reach another file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, make_transient

from orchestrator.db.base import new_id
from orchestrator.errors import ApiError, Conflict, Invalid, NotFound
from orchestrator.models.executions import Artifact, Execution
from orchestrator.services.artifact_store import (
    ArtifactMissing,
    ArtifactStore,
    StoreLimitExceeded,
    open_store,
    put_stream,
)
from orchestrator.settings import Settings

log = logging.getLogger("rpa.orchestrator")


SAFE_CONTENT_TYPE = "application/octet-stream"
_VERSION_ATTEMPTS = 5


def safe_content_type(given: str | None, allowed: list[str]) -> str:
    """The content type an artifact is stored and served with: the agent's, without parameters,
    when it is one of `allowed` (`RPA_ARTIFACT_CONTENT_TYPES`), else `application/octet-stream`
    (an agent's `text/html` or `image/svg+xml` would run as a page of the orchestrator's origin)."""
    media = (given or "").split(";", 1)[0].strip().lower()
    return media if media and media in allowed else SAFE_CONTENT_TYPE


async def _quota_left(session: AsyncSession, execution: Execution, quotas: dict[str, int | None]) -> int | None:
    """Bytes the execution may still upload under `quotas` ("execution", "organisation": bytes, or
    None for no quota), None when neither has one.

    Raises:
        ApiError: 413 `artifact_quota` when a quota is used up already.
    """
    used = select(func.coalesce(func.sum(Artifact.size), 0))
    where = {
        "execution": (Artifact.execution_id == execution.id, Artifact.org_id == execution.org_id),
        "organisation": (Artifact.org_id == execution.org_id,),
    }
    left: list[int] = []
    for scope, quota in quotas.items():
        if quota is None:
            continue
        remaining = quota - int(await session.scalar(used.where(*where[scope])) or 0)
        if remaining <= 0:
            raise ApiError(
                f"the {scope}'s artifact quota of {quota} bytes is used up",
                status=413,
                code="artifact_quota",
                details={"scope": scope, "quota": quota},
            )
        left.append(remaining)
    return min(left) if left else None


def artifact_root(settings: Settings) -> Path:
    """The default artifact store's folder: `<data_dir>/artifacts`."""
    return settings.data_dir / "artifacts"


def artifact_store(settings: Settings) -> ArtifactStore:
    """The store `RPA_ARTIFACT_STORE` names (the folder `artifact_root` when it is empty)."""
    return open_store(settings.artifact_store, artifact_root(settings), settings.artifact_store_options)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise Invalid("name: expected 1 to 255 printable characters", details={"field": "name"})
    return name


async def receive_artifact(
    session: AsyncSession,
    store: ArtifactStore | Path,
    execution: Execution,
    *,
    name: str,
    chunks: AsyncIterator[bytes],
    limit: int,
    content_type: str = "application/octet-stream",
    execution_quota: int | None = None,
    org_quota: int | None = None,
) -> Artifact:
    """Stream an upload into the store (hashing as it goes) and describe it with a new row.

    The quotas (bytes of artifacts the execution, and its organisation, may hold in all; None for
    none) are checked before a byte is read, and what is left of them bounds this upload as
    `limit` does.

    Raises:
        ApiError: 413 `artifact_quota` when a quota is used up already; 413 `too_large` as soon as
            more than `limit` (or what is left of a quota) has arrived (nothing is kept).
    """
    left = await _quota_left(session, execution, {"execution": execution_quota, "organisation": org_quota})
    if left is not None:
        limit = min(limit, left)
    artifact = Artifact(
        id=new_id(),
        org_id=execution.org_id,
        execution_id=execution.id,
        workflow_id=execution.workflow_id,
        name=_check_name(name),
        content_type=content_type[:255] or "application/octet-stream",
    )
    if isinstance(store, Path):
        store = open_store("", store)
    key = f"{execution.org_id}/{execution.id}/{artifact.id}"
    try:
        stored = await put_stream(store, key, chunks, limit)
    except StoreLimitExceeded:
        raise ApiError(
            f"the artifact is larger than the {limit} bytes this execution may still "
            "upload (the size limit or what is left of a quota)",
            status=413,
            code="too_large",
            details={"limit": limit},
        ) from None
    artifact.size, artifact.sha256, artifact.path = stored.size, stored.sha256, key
    await _add_version(session, artifact)
    return artifact


async def _add_version(session: AsyncSession, artifact: Artifact) -> None:
    """Insert `artifact` as the next version of its (workflow, name). Two uploads of one name at
    once may pick the same number: the unique constraint refuses the second, which takes the next."""
    for _ in range(_VERSION_ATTEMPTS):
        artifact.version = 1 + int(
            await session.scalar(
                select(func.coalesce(func.max(Artifact.version), 0)).where(
                    Artifact.org_id == artifact.org_id,
                    Artifact.workflow_id == artifact.workflow_id,
                    Artifact.name == artifact.name,
                )
            )
            or 0
        )
        try:
            async with session.begin_nested():
                session.add(artifact)
            return
        except IntegrityError:
            if artifact in session:
                session.expunge(artifact)
            make_transient(artifact)
    raise Conflict(f"artifact {artifact.name!r}: too many versions stored at once; retry")


async def list_artifacts(
    session: AsyncSession, execution: Execution, *, limit: int, offset: int
) -> tuple[list[Artifact], int]:
    where = (Artifact.execution_id == execution.id, Artifact.org_id == execution.org_id)
    total = await session.scalar(select(func.count()).select_from(Artifact).where(*where))
    rows = await session.scalars(
        select(Artifact).where(*where).order_by(Artifact.created_at, Artifact.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def get_artifact(session: AsyncSession, execution: Execution, artifact_id: uuid.UUID) -> Artifact:
    artifact = await session.scalar(
        select(Artifact).where(
            Artifact.id == artifact_id, Artifact.execution_id == execution.id, Artifact.org_id == execution.org_id
        )
    )
    if artifact is None:
        raise NotFound(f"execution {execution.id} has no artifact {artifact_id}")
    return artifact


def check_artifact_file(store: ArtifactStore, artifact: Artifact) -> None:
    """NotFound (`artifact_missing`) when the artifact's file is missing or its key leaves the store."""
    try:
        present = store.exists(artifact.path)
    except ArtifactMissing:
        present = False
    if not present:
        log.warning("artifact %s has no file in the artifact store at its key", artifact.id)
        raise NotFound(
            f"the file of artifact {artifact.id} is missing from the artifact store", code="artifact_missing"
        )


@dataclass(frozen=True)
class ArtifactFilter:
    """What a metadata query asks for; every field optional, all of them ANDed."""

    execution_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    name: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    latest: bool = False
    """Only the newest version of each (workflow, name)."""


def _conditions(org_id: uuid.UUID, query: ArtifactFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Artifact.org_id == org_id]
    if query.execution_id is not None:
        where.append(Artifact.execution_id == query.execution_id)
    if query.workflow_id is not None:
        where.append(Artifact.workflow_id == query.workflow_id)
    if query.name is not None:
        where.append(Artifact.name == query.name)
    if query.created_from is not None:
        where.append(Artifact.created_at >= query.created_from)
    if query.created_to is not None:
        where.append(Artifact.created_at < query.created_to)
    if query.latest:
        newer = aliased(Artifact)
        where.append(
            ~exists().where(
                newer.org_id == Artifact.org_id,
                newer.workflow_id == Artifact.workflow_id,
                newer.name == Artifact.name,
                newer.version > Artifact.version,
            )
        )
    return where


async def search_artifacts(
    session: AsyncSession, org_id: uuid.UUID, query: ArtifactFilter, *, limit: int, offset: int
) -> tuple[list[Artifact], int]:
    """The organisation's artifacts matching `query`, newest first, and how many match in all."""
    where = _conditions(org_id, query)
    total = await session.scalar(select(func.count()).select_from(Artifact).where(*where))
    rows = await session.scalars(
        select(Artifact)
        .where(*where)
        .order_by(Artifact.created_at.desc(), Artifact.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def get_org_artifact(session: AsyncSession, org_id: uuid.UUID, artifact_id: uuid.UUID) -> Artifact:
    artifact = await session.scalar(select(Artifact).where(Artifact.id == artifact_id, Artifact.org_id == org_id))
    if artifact is None:
        raise NotFound(f"no artifact {artifact_id}")
    return artifact


async def artifact_version(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, name: str, version: int | None
) -> Artifact:
    """Version `version` of the workflow's artifact `name`, or its latest when None."""
    query = select(Artifact).where(
        Artifact.org_id == org_id, Artifact.workflow_id == workflow_id, Artifact.name == name
    )
    if version is not None:
        query = query.where(Artifact.version == version)
    artifact = await session.scalar(query.order_by(Artifact.version.desc()).limit(1))
    if artifact is None:
        which = f"version {version} of " if version is not None else ""
        raise NotFound(f"workflow {workflow_id} has no {which}artifact {name!r}")
    return artifact
