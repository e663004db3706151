"""Execution artifacts: files kept in the artifact store (a folder), described by `Artifact` rows.

A stored file's path is made by the store — `<org_id>/<execution_id>/<artifact_id>` — never from a
name a client or agent chose, and every read resolves the path and checks that it stays inside
the store's root, so a row that was tampered with cannot reach another file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import new_id
from orchestrator.errors import ApiError, Invalid, NotFound
from orchestrator.models.executions import Artifact, Execution
from orchestrator.settings import Settings, private_dir

log = logging.getLogger("rpa.orchestrator")


SAFE_CONTENT_TYPE = "application/octet-stream"


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


def _private_file(path: Path) -> BinaryIO:
    """`path` opened for writing, made 0600 (only the orchestrator's user reads artifacts)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def artifact_root(settings: Settings) -> Path:
    """The artifact store's folder: `<data_dir>/artifacts`."""
    return settings.data_dir / "artifacts"


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise Invalid("name: expected 1 to 255 printable characters", details={"field": "name"})
    return name


async def receive_artifact(
    session: AsyncSession,
    root: Path,
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
        name=_check_name(name),
        content_type=content_type[:255] or "application/octet-stream",
    )
    relative = Path(str(execution.org_id), str(execution.id), str(artifact.id))
    target = root / relative
    private_dir(target.parent)
    partial = target.with_name(target.name + ".part")
    digest, size = hashlib.sha256(), 0
    out = await asyncio.to_thread(_private_file, partial)  # file I/O off the event loop
    try:
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        f"the artifact is larger than the {limit} bytes this execution may still "
                        "upload (the size limit or what is left of a quota)",
                        status=413,
                        code="too_large",
                        details={"limit": limit},
                    )
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
        finally:
            out.close()
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    artifact.size, artifact.sha256, artifact.path = size, digest.hexdigest(), relative.as_posix()
    session.add(artifact)
    await session.flush()
    return artifact


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


def artifact_file(root: Path, artifact: Artifact) -> Path:
    """The artifact's file, resolved inside the store; NotFound when it is missing or lies outside."""
    base = root.resolve()
    candidate = (base / artifact.path).resolve()
    if not candidate.is_relative_to(base):
        log.warning("artifact %s points outside the artifact store; refused", artifact.id)
        raise NotFound(f"the file of artifact {artifact.id} is not in the artifact store", code="artifact_missing")
    if not candidate.is_file():
        raise NotFound(
            f"the file of artifact {artifact.id} is missing from the artifact store", code="artifact_missing"
        )
    return candidate
