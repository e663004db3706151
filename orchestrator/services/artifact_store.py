"""Where artifact files live: a folder (the default) or any fsspec file system named by a URL.

`RPA_ARTIFACT_STORE` chooses the store: empty for `<data_dir>/artifacts`, `file:///srv/artifacts`
or a plain path for another folder, `s3://bucket/prefix` (s3fs), `gcs://…`, `az://…` and the
others fsspec knows through their packages. `RPA_ARTIFACT_STORE_OPTIONS` (JSON) is passed to the
file system (e.g. `{"endpoint_url": "http://minio:9000"}`); credentials come from there or from the
library's usual environment (`AWS_ACCESS_KEY_ID`, an instance role...) and are never logged: only
the URL without its user part is.

Every store has the same small interface, `ArtifactStore`: keys are the relative paths the
orchestrator makes (`<org_id>/<execution_id>/<artifact_id>`), never a client's name. Writes and
reads are streamed in chunks (a file never sits whole in memory); the calls are blocking and are
run in a worker thread by the async helpers (`put_stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from orchestrator.settings import private_dir

CHUNK = 1024 * 1024
"""Bytes read from the store at a time when an artifact is downloaded."""
PART = 8 * 1024 * 1024
"""Bytes of a multipart upload's part (S3's minimum is 5 MiB): what an upload holds in memory."""


class StoreLimitExceeded(Exception):
    """More bytes arrived than the upload's limit allowed (nothing is kept)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class ArtifactMissing(Exception):
    """The key has no file in the store, or names a place outside it."""


@dataclass(frozen=True)
class Stored:
    """What `put_stream` wrote: its size in bytes and SHA-256 (hex)."""

    size: int
    sha256: str


class ArtifactStore(Protocol):
    """The operations the orchestrator needs from a store (blocking; call them off the loop)."""

    url: str
    """Where the store is, for logs (no credentials)."""

    def writer(self, key: str) -> BinaryIO:
        """A file object writing the partial upload of `key` (see `commit` and `abort`)."""

    def commit(self, key: str) -> None:
        """Make the finished partial upload of `key` the artifact's file."""

    def abort(self, key: str, out: BinaryIO | None = None) -> None:
        """Forget the partial upload of `key`, if any (`out`: its writer, which may be unclosed)."""

    def open(self, key: str) -> BinaryIO:
        """The file of `key`, opened for reading. Raises `ArtifactMissing`."""

    def delete(self, key: str) -> bool:
        """Remove the file of `key`; False when there was none."""

    def exists(self, key: str) -> bool:
        """Whether `key` has a file (False for a key that would leave the store)."""

    def size(self, key: str) -> int:
        """The size of `key`'s file in bytes. Raises `ArtifactMissing`."""

    def purge_partials(self, older_than_s: float) -> int:
        """Remove unfinished uploads (left by a crash) older than `older_than_s`; how many."""


def _partial(key: str) -> str:
    return key + ".part"


class LocalStore:
    """A folder: files 0600 in folders 0700, each key resolved and kept inside the root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri() if root.is_absolute() else str(root)

    def _path(self, key: str) -> Path:
        # A tampered row (`../secret.key`, an absolute path) must not reach a file outside the store.
        base = self.root.resolve()
        candidate = (base / key).resolve()
        if not candidate.is_relative_to(base) or candidate == base:
            raise ArtifactMissing(f"{key!r} lies outside the artifact store")
        return candidate

    def writer(self, key: str) -> BinaryIO:
        target = self._path(_partial(key))
        private_dir(target.parent)
        return os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")

    def commit(self, key: str) -> None:
        os.replace(self._path(_partial(key)), self._path(key))

    def abort(self, key: str, out: BinaryIO | None = None) -> None:
        if out is not None and not out.closed:
            out.close()
        self._path(_partial(key)).unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactMissing(f"{key!r} is missing from the artifact store")
        return path.open("rb")

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except ArtifactMissing:
            return False

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactMissing(f"{key!r} is missing from the artifact store")
        return path.stat().st_size

    def purge_partials(self, older_than_s: float) -> int:
        if not self.root.is_dir():
            return 0
        cutoff, removed = time.time() - older_than_s, 0
        for path in self.root.rglob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed


_DIRECT_PROTOCOLS = frozenset({"s3", "s3a"})
"""Stores written at the final key: an S3 object appears only when its multipart upload is
completed (on close), and an aborted one leaves nothing, so no `.part` copy is needed."""


class FsspecStore:
    """Any fsspec file system under a base URL (`s3://bucket/prefix`, `gcs://…`, `memory://…`).

    On S3 an upload goes straight to its key as a multipart upload that `close()` completes and
    `abort` cancels: the object exists whole or not at all, with no server-side copy afterwards
    (a copy of a 1 GiB object is a second full write, and S3 copies one object of at most 5 GiB
    per call). Keys are unique artifact ids, so no conditional put (`If-None-Match`) is needed
    to keep another upload from replacing one. Other file systems write `<key>.part` and rename.
    """

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.fs, base = _fsspec().core.url_to_fs(url, **(options or {}))
        self.base = base.rstrip("/")
        self.url = redact(url)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.direct = bool(_DIRECT_PROTOCOLS & set(protocols))

    def _path(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ArtifactMissing(f"{key!r} is not a key of the artifact store")
        return f"{self.base}/{key}"

    def _upload_path(self, key: str) -> str:
        return self._path(key if self.direct else _partial(key))

    def writer(self, key: str) -> BinaryIO:
        # s3fs writes a multipart upload part by part: one part (PART bytes) in memory at a time,
        # not s3fs's default of 50 MiB per upload in progress.
        out: BinaryIO = self.fs.open(self._upload_path(key), "wb", block_size=PART)
        return out

    def commit(self, key: str) -> None:
        if not self.direct:  # on S3 the writer's close() completed the upload at its key
            self.fs.mv(self._path(_partial(key)), self._path(key))

    def abort(self, key: str, out: BinaryIO | None = None) -> None:
        if self.direct:
            if out is not None and not out.closed:
                # Not close(): that would complete the upload with the parts sent so far.
                out.discard()  # type: ignore[attr-defined]  # fsspec's buffered file: aborts the upload
                out.closed = True  # type: ignore[misc]  # its buffer is gone; nothing left to close
            return
        if out is not None and not out.closed:
            out.close()
        self.delete(_partial(key))

    def open(self, key: str) -> BinaryIO:
        try:
            stream: BinaryIO = self.fs.open(self._path(key), "rb", block_size=CHUNK)
        except FileNotFoundError:
            raise ArtifactMissing(f"{key!r} is missing from the artifact store") from None
        return stream

    def delete(self, key: str) -> bool:
        path = self._path(key)
        if not self.fs.exists(path):
            return False
        self.fs.rm_file(path)
        return True

    def exists(self, key: str) -> bool:
        try:
            return bool(self.fs.isfile(self._path(key)))
        except ArtifactMissing:
            return False

    def size(self, key: str) -> int:
        try:
            return int(self.fs.size(self._path(key)))
        except FileNotFoundError:
            raise ArtifactMissing(f"{key!r} is missing from the artifact store") from None

    def purge_partials(self, older_than_s: float) -> int:
        cutoff, removed = datetime.now(UTC) - timedelta(seconds=older_than_s), 0
        if self.direct:
            return self._abort_stale_uploads(cutoff)
        for path in self.fs.find(self.base):
            if not str(path).endswith(".part"):
                continue
            modified = self.fs.modified(path)
            if modified.tzinfo is None:
                modified = modified.replace(tzinfo=UTC)
            if modified < cutoff:
                self.fs.rm_file(path)
                removed += 1
        return removed

    def _abort_stale_uploads(self, cutoff: datetime) -> int:
        """Abort the multipart uploads under the store's prefix a crash left open (S3 keeps their
        parts, and bills them, until they are aborted)."""
        bucket, _, prefix = self.base.partition("/")
        removed = 0
        for upload in self.fs.list_multipart_uploads(bucket):
            key, started = str(upload.get("Key", "")), upload.get("Initiated")
            if not key.startswith(f"{prefix}/" if prefix else "") or not isinstance(started, datetime):
                continue
            if (started if started.tzinfo else started.replace(tzinfo=UTC)) < cutoff:
                self.fs.abort_mpu(bucket, key, upload["UploadId"])
                removed += 1
        return removed


def _fsspec() -> Any:
    """fsspec, imported when a store URL needs it (the `storage` extra; a folder store does without)."""
    import importlib

    try:
        return importlib.import_module("fsspec")
    except ImportError:
        raise RuntimeError(
            "RPA_ARTIFACT_STORE names an fsspec URL: install the storage extra (pip install 'rpa-suite[storage]')"
        ) from None


def redact(url: str) -> str:
    """`url` without a user or password (`s3://KEY:SECRET@bucket` -> `s3://bucket`)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def open_store(url: str, default_root: Path, options: dict[str, Any] | None = None) -> ArtifactStore:
    """The store `url` names: empty -> the folder `default_root`; a path or `file://` -> that folder;
    any other scheme -> fsspec."""
    if not url:
        return LocalStore(default_root)
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalStore(Path(urlsplit(url).path))
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return LocalStore(Path(url))
    return FsspecStore(url, options)


async def put_stream(store: ArtifactStore, key: str, chunks: AsyncIterator[bytes], limit: int) -> Stored:
    """Stream `chunks` into `key` (hashing as it goes); the file appears only when complete.

    Raises:
        StoreLimitExceeded: as soon as more than `limit` bytes have arrived (nothing is kept).
    """
    digest, size = hashlib.sha256(), 0
    out = await asyncio.to_thread(store.writer, key)
    done = False
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise StoreLimitExceeded(limit)
            digest.update(chunk)
            await asyncio.to_thread(out.write, chunk)
        await asyncio.to_thread(out.close)
        await asyncio.to_thread(store.commit, key)
        done = True
    finally:
        if not done:
            await asyncio.to_thread(store.abort, key, out)
    return Stored(size=size, sha256=digest.hexdigest())


async def read_stream(store: ArtifactStore, key: str) -> AsyncIterator[bytes]:
    """The file of `key` in chunks of `CHUNK` bytes, read off the loop."""
    source = await asyncio.to_thread(store.open, key)
    try:
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(source.close)


def attachment(name: str) -> str:
    """The `Content-Disposition` of a download named `name` (RFC 6266; UTF-8 names as `filename*`)."""
    quoted = quote(name)
    if quoted != name:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{name}"'
