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

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import new_id
from orchestrator.errors import ApiError, Invalid, NotFound
from orchestrator.models.executions import Artifact, Execution
from orchestrator.settings import Settings

log = logging.getLogger("rpa.orchestrator")


def artifact_root(settings: Settings) -> Path:
    """The artifact store's folder: `<data_dir>/artifacts`."""
    return settings.data_dir / "artifacts"


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise Invalid("name: expected 1 to 255 printable characters", details={"field": "name"})
    return name


async def receive_artifact(session: AsyncSession, root: Path, execution: Execution, *, name: str,
                           chunks: AsyncIterator[bytes], limit: int,
                           content_type: str = "application/octet-stream") -> Artifact:
    """Stream an upload into the store (hashing as it goes) and describe it with a new row.

    Raises:
        ApiError: 413 `too_large` as soon as more than `limit` bytes have arrived (nothing is kept).
    """
    artifact = Artifact(id=new_id(), org_id=execution.org_id, execution_id=execution.id, name=_check_name(name),
                        content_type=content_type[:255] or "application/octet-stream")
    relative = Path(str(execution.org_id), str(execution.id), str(artifact.id))
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest, size = hashlib.sha256(), 0
    out = await asyncio.to_thread(partial.open, "wb")  # file I/O off the event loop
    try:
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ApiError(f"the artifact is larger than the limit of {limit} bytes", status=413,
                                   code="too_large", details={"limit": limit})
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


async def list_artifacts(session: AsyncSession, execution: Execution, *, limit: int, offset: int
                         ) -> tuple[list[Artifact], int]:
    where = (Artifact.execution_id == execution.id, Artifact.org_id == execution.org_id)
    total = await session.scalar(select(func.count()).select_from(Artifact).where(*where))
    rows = await session.scalars(select(Artifact).where(*where).order_by(Artifact.created_at, Artifact.id)
                                 .limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def get_artifact(session: AsyncSession, execution: Execution, artifact_id: uuid.UUID) -> Artifact:
    artifact = await session.scalar(select(Artifact).where(
        Artifact.id == artifact_id, Artifact.execution_id == execution.id, Artifact.org_id == execution.org_id))
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
        raise NotFound(f"the file of artifact {artifact.id} is missing from the artifact store",
                       code="artifact_missing")
    return candidate
