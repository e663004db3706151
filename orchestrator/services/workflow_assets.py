"""A workflow's assets: files its flow names relative to its folder (`image:images/ok.png`).

Bytes are stored once per workflow and content (`WorkflowAssetBlob`, sha256), so a file kept
unchanged through a hundred versions is stored once; the draft maps paths to contents
(`WorkflowDraftAsset`), and publishing freezes that map into the version (`WorkflowVersion.assets`,
immutable like the version). Every query is scoped by organisation: another organisation's asset is
a 404, even by its hash. Limits (`AssetLimits`): bytes per file, per version (all files of the
draft together) and files per version; a file is checked by content (`shared.flow.check_asset`).
Services only flush; the caller owns the transaction.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import ApiError, Invalid, NotFound
from orchestrator.models.workflows import Workflow, WorkflowAssetBlob, WorkflowDraftAsset, WorkflowVersion
from orchestrator.services.audit import Actor, record
from orchestrator.services.catalogue import step_registry
from shared.flow import (
    MAX_ASSET_BYTES,
    MAX_ASSETS,
    MAX_VERSION_ASSET_BYTES,
    AssetError,
    check_asset,
    find_assets,
    normalise_asset_path,
)
from shared.flow._validate import json_path

__all__ = [
    "AssetInfo",
    "AssetLimits",
    "asset_map_at",
    "assets_diff",
    "count_blobs",
    "delete_draft_asset",
    "draft_assets",
    "export_assets",
    "freeze_draft_assets",
    "import_assets",
    "job_assets",
    "put_draft_assets",
    "read_asset",
    "read_blob_for_version",
    "set_draft_assets",
    "version_assets",
]


@dataclass(frozen=True, slots=True)
class AssetLimits:
    """How much a workflow's assets may hold."""

    file_bytes: int = MAX_ASSET_BYTES
    version_bytes: int = MAX_VERSION_ASSET_BYTES
    files: int = MAX_ASSETS


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One asset as the API lists it."""

    path: str
    sha256: str
    size: int
    content_type: str


def _too_large(message: str, limit: int, **details: Any) -> ApiError:
    return ApiError(message, status=413, code="too_large", details={"limit": limit, **details})


async def _blobs(session: AsyncSession, workflow: Workflow, hashes: Iterable[str]) -> dict[str, WorkflowAssetBlob]:
    wanted = set(hashes)
    if not wanted:
        return {}
    rows = await session.scalars(
        select(WorkflowAssetBlob).where(
            WorkflowAssetBlob.org_id == workflow.org_id,
            WorkflowAssetBlob.workflow_id == workflow.id,
            WorkflowAssetBlob.sha256.in_(wanted),
        )
    )
    return {blob.sha256: blob for blob in rows.all()}


async def _sizes(session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, hashes: Iterable[str]) -> Any:
    """(sha256, size, content_type) rows without loading the bytes."""
    return await session.execute(
        select(WorkflowAssetBlob.sha256, WorkflowAssetBlob.size, WorkflowAssetBlob.content_type).where(
            WorkflowAssetBlob.org_id == org_id,
            WorkflowAssetBlob.workflow_id == workflow_id,
            WorkflowAssetBlob.sha256.in_(set(hashes)),
        )
    )


async def _listed(session: AsyncSession, workflow: Workflow, mapping: Mapping[str, str]) -> list[AssetInfo]:
    rows = await _sizes(session, workflow.org_id, workflow.id, mapping.values())
    meta = {sha: (size, content_type) for sha, size, content_type in rows.all()}
    return [
        AssetInfo(path, sha, *meta.get(sha, (0, "application/octet-stream"))) for path, sha in sorted(mapping.items())
    ]


async def _draft_map(session: AsyncSession, workflow: Workflow) -> dict[str, str]:
    rows = await session.execute(
        select(WorkflowDraftAsset.path, WorkflowDraftAsset.sha256).where(
            WorkflowDraftAsset.org_id == workflow.org_id, WorkflowDraftAsset.workflow_id == workflow.id
        )
    )
    return {path: sha for path, sha in rows.all()}


async def draft_assets(session: AsyncSession, workflow: Workflow) -> list[AssetInfo]:
    """The files of the draft, by path."""
    return await _listed(session, workflow, await _draft_map(session, workflow))


async def version_assets(session: AsyncSession, workflow: Workflow, version: WorkflowVersion) -> list[AssetInfo]:
    """The files a version was published with, by path."""
    return await _listed(session, workflow, dict(version.assets or {}))


def _checked(files: Iterable[tuple[str, bytes]], limits: AssetLimits) -> dict[str, tuple[bytes, str, str]]:
    """path -> (bytes, sha256, content type), every file named and checked.

    Raises:
        Invalid: a bad path or a file whose content is not what its name says (`details.path`).
        ApiError: 413 for a file over the limit.
    """
    checked: dict[str, tuple[bytes, str, str]] = {}
    for name, data in files:
        try:
            path = normalise_asset_path(name)
            if len(data) > limits.file_bytes:
                raise _too_large(
                    f"asset '{path}' has {len(data)} bytes; the limit is {limits.file_bytes}",
                    limits.file_bytes,
                    path=path,
                )
            content_type = check_asset(path, data)
        except AssetError as exc:
            raise Invalid(str(exc), code="invalid_asset", details={"path": name}) from None
        checked[path] = (data, hashlib.sha256(data).hexdigest(), content_type)
    if not checked:
        raise Invalid("no file was sent", code="invalid_asset")
    return checked


async def _check_totals(
    session: AsyncSession, workflow: Workflow, merged: dict[str, str], new_sizes: dict[str, int], limits: AssetLimits
) -> None:
    if len(merged) > limits.files:
        raise _too_large(f"a version holds at most {limits.files} assets ({len(merged)} asked)", limits.files)
    rows = await _sizes(session, workflow.org_id, workflow.id, merged.values())
    sizes = {sha: size for sha, size, _ in rows.all()} | new_sizes
    total = sum(sizes.get(sha, 0) for sha in merged.values())
    if total > limits.version_bytes:
        raise _too_large(
            f"the draft's assets would hold {total} bytes; a version holds at most {limits.version_bytes}",
            limits.version_bytes,
            total=total,
        )


async def _store_blob(session: AsyncSession, workflow: Workflow, sha: str, data: bytes, content_type: str) -> bool:
    """Keep `data` unless this workflow has it already; True when it was new."""
    if await _blobs(session, workflow, [sha]):
        return False
    session.add(
        WorkflowAssetBlob(
            org_id=workflow.org_id,
            workflow_id=workflow.id,
            sha256=sha,
            size=len(data),
            content_type=content_type,
            data=data,
            created_at=utcnow(),
        )
    )
    return True


async def _drop_unreferenced(session: AsyncSession, workflow: Workflow, candidates: Iterable[str]) -> int:
    """Delete the contents among `candidates` that neither the draft nor any version holds."""
    wanted = set(candidates)
    if not wanted:
        return 0
    held = set((await _draft_map(session, workflow)).values())
    maps = await session.scalars(
        select(WorkflowVersion.assets).where(
            WorkflowVersion.org_id == workflow.org_id, WorkflowVersion.workflow_id == workflow.id
        )
    )
    for mapping in maps.all():
        held.update((mapping or {}).values())
    unused = wanted - held
    if unused:
        await session.execute(
            delete(WorkflowAssetBlob).where(
                WorkflowAssetBlob.org_id == workflow.org_id,
                WorkflowAssetBlob.workflow_id == workflow.id,
                WorkflowAssetBlob.sha256.in_(unused),
            )
        )
    return len(unused)


async def put_draft_assets(
    session: AsyncSession,
    workflow: Workflow,
    files: Iterable[tuple[str, bytes]],
    actor: Actor,
    limits: AssetLimits | None = None,
) -> list[AssetInfo]:
    """Add or replace files of the draft (all or none); the draft's revision moves on.

    Args:
        workflow: the workflow, loaded for update by the caller.
        files: (relative path, bytes) pairs.

    Returns:
        The files written, by path.

    Raises:
        Invalid: (422 `invalid_asset`) a bad name or content; ApiError 413 `too_large` over a limit.
    """
    limits = limits or AssetLimits()
    checked = _checked(files, limits)
    current = await _draft_map(session, workflow)
    merged = current | {path: sha for path, (_, sha, _) in checked.items()}
    await _check_totals(session, workflow, merged, {sha: len(data) for data, sha, _ in checked.values()}, limits)
    stored = 0
    replaced: list[str] = []
    for path, (data, sha, content_type) in checked.items():
        stored += await _store_blob(session, workflow, sha, data, content_type)
        row = await session.get(WorkflowDraftAsset, (workflow.id, path))
        if row is None:
            session.add(WorkflowDraftAsset(org_id=workflow.org_id, workflow_id=workflow.id, path=path, sha256=sha))
        else:
            replaced.append(row.sha256)
            row.sha256 = sha
    await session.flush()
    await _drop_unreferenced(session, workflow, replaced)  # a draft's file replaced before any publish
    workflow.draft_revision += 1
    workflow.updated_at = utcnow()
    await session.flush()
    await record(
        session,
        org_id=workflow.org_id,
        actor=actor,
        action="workflow.assets.put",
        target_type="workflow",
        target_id=workflow.id,
        summary={"name": workflow.name, "paths": sorted(checked), "new_contents": stored},
    )
    infos = {info.path: info for info in await _listed(session, workflow, merged)}
    return [infos[path] for path in sorted(checked)]


async def delete_draft_asset(session: AsyncSession, workflow: Workflow, path: str, actor: Actor) -> None:
    """Remove a file from the draft (published versions keep theirs).

    Raises:
        NotFound: the draft has no such file.
    """
    row = await session.get(WorkflowDraftAsset, (workflow.id, _normalised(path)))
    if row is None or row.org_id != workflow.org_id:
        raise NotFound(f"the draft of '{workflow.name}' has no asset '{path}'", details={"path": path})
    await session.delete(row)
    await session.flush()
    await _drop_unreferenced(session, workflow, [row.sha256])
    workflow.draft_revision += 1
    workflow.updated_at = utcnow()
    await session.flush()
    await record(
        session,
        org_id=workflow.org_id,
        actor=actor,
        action="workflow.assets.delete",
        target_type="workflow",
        target_id=workflow.id,
        summary={"name": workflow.name, "path": row.path},
    )


def _normalised(path: str) -> str:
    try:
        return normalise_asset_path(path)
    except AssetError as exc:
        raise Invalid(str(exc), code="invalid_asset", details={"path": path}) from None


async def read_asset(
    session: AsyncSession, workflow: Workflow, path: str, version: WorkflowVersion | None = None
) -> WorkflowAssetBlob:
    """The stored file at `path` of the draft, or of `version`.

    Raises:
        NotFound: no such file there.
    """
    clean = _normalised(path)
    mapping = dict(version.assets or {}) if version is not None else await _draft_map(session, workflow)
    sha = mapping.get(clean)
    blob = (await _blobs(session, workflow, [sha])).get(sha) if sha else None
    if blob is None:
        where = f"version {version.number}" if version is not None else "the draft"
        raise NotFound(f"{where} of '{workflow.name}' has no asset '{path}'", details={"path": path})
    return blob


async def freeze_draft_assets(session: AsyncSession, workflow: Workflow) -> dict[str, str]:
    """The draft's asset map for a new version; every asset the flow names must be there.

    Raises:
        Invalid: (422 `missing_assets`) the flow names files the draft does not hold; `details`
            lists each with the JSON path of the param naming it.
    """
    mapping = await _draft_map(session, workflow)
    missing = [
        {"asset": name, "path": json_path(parts[0])}
        for name, parts in find_assets(workflow.draft, step_registry()).items()
        if name not in mapping
    ]
    if missing:
        first = missing[0]
        more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        raise Invalid(
            f"the draft names asset '{first['asset']}' at {first['path']} but holds no such file; "
            f"upload it first{more}",
            code="missing_assets",
            details={"missing": missing},
        )
    return mapping


async def job_assets(session: AsyncSession, version: WorkflowVersion) -> dict[str, dict[str, Any]]:
    """What a job carries of its version's assets: path -> {sha256, size}."""
    mapping = dict(version.assets or {})
    if not mapping:
        return {}
    rows = await _sizes(session, version.org_id, version.workflow_id, mapping.values())
    sizes = {sha: size for sha, size, _ in rows.all()}
    return {path: {"sha256": sha, "size": sizes.get(sha, 0)} for path, sha in mapping.items()}


async def read_blob_for_version(
    session: AsyncSession, org_id: uuid.UUID, version_id: uuid.UUID, sha256: str
) -> WorkflowAssetBlob:
    """The content `sha256` when version `version_id` of the organisation holds it.

    Raises:
        NotFound: the version does not hold it (whatever another workflow or organisation holds).
    """
    version = await session.get(WorkflowVersion, version_id)
    if version is None or version.org_id != org_id or sha256 not in set((version.assets or {}).values()):
        raise NotFound(f"no asset {sha256[:12]}... in this execution's version", details={"sha256": sha256})
    blob = await session.scalar(
        select(WorkflowAssetBlob).where(
            WorkflowAssetBlob.org_id == org_id,
            WorkflowAssetBlob.workflow_id == version.workflow_id,
            WorkflowAssetBlob.sha256 == sha256,
        )
    )
    if blob is None:
        raise NotFound(f"no asset {sha256[:12]}... in this execution's version", details={"sha256": sha256})
    return blob


async def asset_map_at(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, ref: int | str
) -> dict[str, str]:
    """path -> sha256 of the draft (`ref == "draft"`) or of version `ref` (a live workflow of the org)."""
    if ref == "draft":
        workflow = await session.scalar(
            select(Workflow).where(Workflow.id == workflow_id, Workflow.org_id == org_id, Workflow.deleted_at.is_(None))
        )
        return await _draft_map(session, workflow) if workflow is not None else {}
    mapping = await session.scalar(
        select(WorkflowVersion.assets).where(
            WorkflowVersion.org_id == org_id, WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == ref
        )
    )
    return dict(mapping or {})


def assets_diff(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str]]:
    """Paths added, removed and changed (another content) between two asset maps."""
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(path for path in set(before) & set(after) if before[path] != after[path]),
    }


async def export_assets(session: AsyncSession, workflow: Workflow, hashes: Iterable[str]) -> dict[str, str]:
    """sha256 -> base64 of the contents named, for a bundle."""
    blobs = await _blobs(session, workflow, hashes)
    return {sha: base64.b64encode(blob.data).decode("ascii") for sha, blob in sorted(blobs.items())}


async def import_assets(
    session: AsyncSession,
    workflow: Workflow,
    contents: Mapping[str, str],
    maps: Iterable[Mapping[str, str]],
    limits: AssetLimits | None = None,
) -> None:
    """Store a bundle's contents for `workflow`, each checked against its hash and its kind (the
    kind a map's path gives it).

    Args:
        contents: sha256 -> base64 bytes.
        maps: the asset maps (draft, versions) naming those contents; each must be complete.

    Raises:
        Invalid: (`invalid_bundle`) content that does not match its hash or kind, or a map naming
            a content the bundle lacks.
    """
    limits = limits or AssetLimits()
    names: dict[str, str] = {}
    for mapping in maps:
        for path, sha in mapping.items():
            if sha not in contents:
                raise Invalid(f"the bundle lacks the content of asset '{path}'", code="invalid_bundle")
            names.setdefault(sha, _normalised(path))
    for sha, encoded in contents.items():
        if sha not in names:
            continue  # a content no map names: nothing would ever read it
        try:
            data = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise Invalid(f"asset '{names[sha]}' is not base64", code="invalid_bundle") from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise Invalid(f"asset '{names[sha]}' does not match its sha256", code="invalid_bundle")
        if len(data) > limits.file_bytes:
            raise _too_large(f"asset '{names[sha]}' has {len(data)} bytes", limits.file_bytes, path=names[sha])
        try:
            content_type = check_asset(names[sha], data)
        except AssetError as exc:
            raise Invalid(str(exc), code="invalid_bundle") from None
        await _store_blob(session, workflow, sha, data, content_type)
    await session.flush()


async def set_draft_assets(session: AsyncSession, workflow: Workflow, mapping: Mapping[str, str]) -> None:
    """Make `mapping` (path -> sha256 of contents the workflow stores) the draft's files."""
    await session.execute(
        delete(WorkflowDraftAsset).where(
            WorkflowDraftAsset.org_id == workflow.org_id, WorkflowDraftAsset.workflow_id == workflow.id
        )
    )
    for path, sha in mapping.items():
        session.add(
            WorkflowDraftAsset(org_id=workflow.org_id, workflow_id=workflow.id, path=_normalised(path), sha256=sha)
        )
    await session.flush()


async def count_blobs(session: AsyncSession, workflow: Workflow) -> int:
    """How many distinct contents the workflow stores (tests read the de-duplication with it)."""
    return int(
        await session.scalar(
            select(func.count()).where(
                WorkflowAssetBlob.org_id == workflow.org_id, WorkflowAssetBlob.workflow_id == workflow.id
            )
        )
        or 0
    )
