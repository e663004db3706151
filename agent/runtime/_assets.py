"""The files a job's flow names relative to its folder: fetched, checked, cached, laid out.

A job carries its version's assets as `path -> (sha256, size)`. Contents missing from the cache
(`<home>/assets/<ab>/<sha256>`) are fetched over the agent's authenticated HTTP channel
(`GET /api/v1/agents/me/assets/<execution>/<sha256>`), checked against their hash and size, and
kept; the cache is bounded in bytes and evicts the least recently used contents (a use touches
the file's mtime). Before the run, the files are copied into a folder of the execution
(`<home>/flows/<execution>/`), the run's `flow_dir`: copies, so a step that writes to one
cannot spoil the cache. A resumed execution gets the same map again and the same layout. A job
without files gets no folder at all (its `flow_dir` names one that does not exist, which reads
the same as an empty one): making and removing a folder is most of the agent's own work on a
one-step job.

The files of each sub-flow the job carries (`JobAssign.subflow_assets`) are laid out the same way
in a folder of that sub-flow (`<home>/flows/<execution>.subflows/<name>/`, see `subflow_dir_of`),
the `flow_dir` of its steps: beside the execution's folder, not in it, so that no path of the
root flow's own files can meet them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from shared.protocol import FlowAsset

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AssetCache",
    "AssetFetchError",
    "flow_dir_of",
    "prepare_assets",
    "prepare_subflow_assets",
    "remove_flow_dir",
    "subflow_dir_of",
]

log = logging.getLogger("rpa.agent")

ATTEMPTS = 3
DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


class AssetFetchError(Exception):
    """An asset the job needs could not be had; the message names it and why."""


class AssetCache:
    """Contents by sha256 under `root`, at most `max_bytes` together (least recently used go first).

    Args:
        root: the cache folder (created 0700).
        max_bytes: the bound; contents a job needs now are never evicted, even past it.
    """

    def __init__(self, root: Path, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def get(self, sha256: str) -> Path | None:
        """The cached file of this content (its use recorded), or None."""
        path = self.path_of(sha256)
        if not path.is_file():
            return None
        os.utime(path)
        return path

    def put(self, sha256: str, data: bytes) -> Path:
        """Keep `data` as `sha256` (written whole, then renamed into place).

        Raises:
            AssetFetchError: when `data` does not hash to `sha256`.
        """
        if hashlib.sha256(data).hexdigest() != sha256:
            raise AssetFetchError(f"content {sha256[:12]}... arrived with another hash")
        target = self.path_of(sha256)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def evict(self, keep: Collection[str] = ()) -> list[str]:
        """Remove the least recently used contents until the cache fits; the hashes removed."""
        if not self.root.is_dir():
            return []
        entries = sorted(
            ((p.stat().st_mtime, p.stat().st_size, p) for p in self.root.glob("??/*") if p.is_file()),
            key=lambda entry: entry[0],
        )
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            if path.name in keep or path.name.startswith(".part-"):
                continue
            path.unlink(missing_ok=True)
            total -= size
            removed.append(path.name)
        return removed


def flow_dir_of(home: Path, execution_id: str) -> Path:
    """Where the files of an execution are laid out."""
    return home / "flows" / execution_id


def subflow_dir_of(home: Path, execution_id: str, name: str) -> Path:
    """Where the files of sub-flow `name` of an execution are laid out.

    A workflow's name may hold any character: the folder is a safe slug of it and a hash of the
    whole name (two names never share a folder).
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:40] or "flow"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
    return home / "flows" / f"{execution_id}.subflows" / f"{slug}-{digest}"


async def _fetch(http: httpx.AsyncClient, url: str, path: str, asset: FlowAsset) -> bytes:
    import httpx

    problem = ""
    for attempt in range(ATTEMPTS):
        try:
            response = await http.get(url)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__} reaching the orchestrator"
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        if response.status_code == 200:
            if len(response.content) != asset.size:
                raise AssetFetchError(
                    f"asset '{path}' arrived with {len(response.content)} bytes, {asset.size} expected"
                )
            return response.content
        problem = f"HTTP {response.status_code}"
        if response.status_code < 500:
            break  # the orchestrator says no: asking again changes nothing
        await asyncio.sleep(0.5 * (attempt + 1))
    raise AssetFetchError(f"asset '{path}' could not be fetched from the orchestrator ({problem})")


def _target(folder: Path, path: str) -> Path:
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts:
        raise AssetFetchError(f"asset '{path}' is not a relative path inside the flow's folder")
    return folder.joinpath(*parts)


async def _have(url: str, key: str, execution_id: str, assets: Mapping[str, FlowAsset], cache: AssetCache) -> int:
    """Fetch into the cache every content of `assets` it lacks; how many were fetched."""
    import httpx

    missing = {ref.sha256: path for path, ref in assets.items() if cache.get(ref.sha256) is None}
    if not missing:
        return 0
    base = f"{url.rstrip('/')}/api/v1/agents/me/assets/{execution_id}"
    refs = {ref.sha256: ref for ref in assets.values()}
    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
        for sha, path in missing.items():
            data = await _fetch(http, f"{base}/{sha}", path, refs[sha])
            await asyncio.to_thread(cache.put, sha, data)
    log.info("execution %s: fetched %d asset(s)", execution_id, len(missing))
    return len(missing)


async def prepare_assets(
    url: str,
    key: str,
    home: Path,
    execution_id: str,
    assets: Mapping[str, FlowAsset],
    cache: AssetCache,
) -> Path:
    """Have every asset of the job in the cache and copied into the execution's folder.

    Args:
        url: the orchestrator's base URL.
        key: the agent key.
        home: the agent's home.
        execution_id: the execution whose job carries `assets`.
        assets: relative path -> content.
        cache: the agent's asset cache.

    Returns:
        The execution's folder (the run's `flow_dir`); not made when the job has no assets.

    Raises:
        AssetFetchError: an asset that could not be fetched or does not match; names it.
    """
    folder = flow_dir_of(home, execution_id)
    if not assets:
        return folder
    fetched = await _have(url, key, execution_id, assets, cache)
    await asyncio.to_thread(_lay_out, folder, assets, cache)
    if fetched:  # only a fetch makes the cache grow
        await asyncio.to_thread(cache.evict, {ref.sha256 for ref in assets.values()})
    return folder


async def prepare_subflow_assets(
    url: str,
    key: str,
    home: Path,
    execution_id: str,
    subflows: Mapping[str, Mapping[str, FlowAsset]],
    cache: AssetCache,
) -> dict[str, Path]:
    """Lay out the files of each sub-flow of the job in a folder of its own (`subflow_dir_of`).

    Args:
        url: the orchestrator's base URL.
        key: the agent key.
        home: the agent's home.
        execution_id: the execution whose job carries the sub-flows.
        subflows: sub-flow name -> relative path -> content; every sub-flow of the job gets a
            folder, not made when it has no files.
        cache: the agent's asset cache.

    Returns:
        Sub-flow name -> its folder (the `flow_dir` of its steps).

    Raises:
        AssetFetchError: an asset that could not be fetched or does not match; names it and its sub-flow.
    """
    folders: dict[str, Path] = {}
    fetched = 0
    for name, assets in subflows.items():
        folders[name] = subflow_dir_of(home, execution_id, name)
        if not assets:
            continue
        try:
            fetched += await _have(url, key, execution_id, assets, cache)
            await asyncio.to_thread(_lay_out, folders[name], assets, cache)
        except AssetFetchError as exc:
            raise AssetFetchError(f"sub-flow '{name}': {exc}") from None
    if fetched:  # only a fetch makes the cache grow
        wanted = {ref.sha256 for assets in subflows.values() for ref in assets.values()}
        await asyncio.to_thread(cache.evict, wanted)
    return folders


def _lay_out(folder: Path, assets: Mapping[str, FlowAsset], cache: AssetCache) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, ref in assets.items():
        source = cache.get(ref.sha256)
        if source is None:  # evicted by a concurrent job between fetch and copy: rare, and loud
            raise AssetFetchError(f"asset '{path}' left the cache before it was laid out; run again")
        target = _target(folder, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def remove_flow_dir(home: Path, execution_id: str) -> None:
    """Forget the execution's laid-out files, its sub-flows' too (the cache keeps the contents)."""
    for folder in (flow_dir_of(home, execution_id), home / "flows" / f"{execution_id}.subflows"):
        try:
            folder.rmdir()  # one system call when it is missing (a job without files) or empty
        except FileNotFoundError:
            continue
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
