"""Move every artifact file from one store to another (`rpa artifacts migrate --to URL`).

Files keep their keys (`<org>/<execution>/<artifact id>`), so the rows need no change: once
every file is in the new store, pointing `RPA_ARTIFACT_STORE` at it is the whole switch. Each
file is streamed (never whole in memory) through the target's normal upload path (it appears
only when complete), and its size and SHA-256 are checked against the artifact's row before it
counts as copied; a mismatch removes the copy and is reported. A run can stop at any point and
be started again: a file already in the target with the row's size and hash is skipped, so the
work resumes where it ended. The source is never changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models.executions import Artifact
from orchestrator.services.artifact_store import CHUNK, ArtifactMissing, ArtifactStore


@dataclass
class MigrationReport:
    """What a run did: files copied, found in the target already, and failed (id -> reason)."""

    copied: int = 0
    present: int = 0
    bytes_copied: int = 0
    failed: dict[uuid.UUID, str] = field(default_factory=dict)


def _hash_of(store: ArtifactStore, key: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with store.open(key) as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _in_target(target: ArtifactStore, artifact: Artifact) -> bool:
    """The target holds this file already, whole (size first: a cheap check before the hash)."""
    if not target.exists(artifact.path) or target.size(artifact.path) != artifact.size:
        return False
    return _hash_of(target, artifact.path) == (artifact.size, artifact.sha256)


def copy_one(source: ArtifactStore, target: ArtifactStore, artifact: Artifact) -> int:
    """Copy one file, verified against its row; returns its size.

    Raises:
        ArtifactMissing: the source has no file for it.
        ValueError: what arrived differs from the row (the copy is removed).
    """
    digest, size = hashlib.sha256(), 0
    out = target.writer(artifact.path)
    done = False
    try:
        with source.open(artifact.path) as reader:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if (size, digest.hexdigest()) != (artifact.size, artifact.sha256):
            raise ValueError(f"read {size} bytes with sha256 {digest.hexdigest()[:12]}…, the row says {artifact.size}")
        out.close()
        target.commit(artifact.path)
        done = True
    finally:
        if not done:
            target.abort(artifact.path, out)
    return size


def _migrate_one(source: ArtifactStore, target: ArtifactStore, artifact: Artifact, report: MigrationReport) -> None:
    try:
        if _in_target(target, artifact):
            report.present += 1
            return
        report.bytes_copied += copy_one(source, target, artifact)
        report.copied += 1
    except (ArtifactMissing, ValueError, OSError) as exc:
        report.failed[artifact.id] = f"{type(exc).__name__}: {exc}"


async def migrate_artifacts(
    session_factory: Callable[[], AsyncSession],
    source: ArtifactStore,
    target: ArtifactStore,
    *,
    batch: int = 200,
    progress: Callable[[MigrationReport], None] | None = None,
) -> MigrationReport:
    """Copy every artifact's file from `source` to `target`, verified; see the module docstring.

    Rows are read in pages by id (new uploads during a run are taken too when their id sorts
    after the page being read; run the command again after switching to catch any other).
    """
    report = MigrationReport()
    after: uuid.UUID | None = None
    while True:
        async with session_factory() as session:
            query = select(Artifact).order_by(Artifact.id).limit(batch)
            if after is not None:
                query = query.where(Artifact.id > after)
            rows = list(await session.scalars(query))
        if not rows:
            return report
        for artifact in rows:
            await asyncio.to_thread(_migrate_one, source, target, artifact, report)
        after = rows[-1].id
        if progress is not None:
            progress(report)
