"""Listing a watched folder: a local directory, an S3 prefix or an FTP folder, as one snapshot
`{path: FileState}`. Remote listings go through fsspec (s3fs, fsspec's FTP) with its listing
cache dropped before each scan, in a worker thread.

Errors become `ScanFailed` (the storage could not be listed: retry with backoff) or a
`SourceError` (a missing library, a URL the source cannot use).
"""

from __future__ import annotations

import asyncio
import fnmatch
import importlib.util
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from orchestrator.triggers.sources._api import SourceError

__all__ = ["FileState", "Folder", "ScanFailed", "open_folder"]


class ScanFailed(Exception):
    """The folder could not be listed now (server gone, timeout); the source retries."""


@dataclass(frozen=True)
class FileState:
    """What identifies one version of a file: its size and modification time or ETag."""

    size: int
    version: str
    """The mtime in nanoseconds (local), the ETag (S3) or the MLSD modify fact (FTP)."""
    mtime: str | None = None
    """ISO 8601 modification time, when the storage gives one."""
    etag: str | None = None

    def as_list(self) -> list[Any]:
        return [self.size, self.version]


@dataclass
class Folder:
    """A watched folder and how to list it."""

    url: str
    """The folder as shown to people (no credentials)."""
    root: str
    """The folder in the file system's own form (a local path, `bucket/prefix`, `/dir`)."""
    protocol: str
    recursive: bool
    patterns: tuple[str, ...]
    ignore: tuple[str, ...]
    fs: Any = None

    def display(self, path: str) -> str:
        """The URL of a file as put in events."""
        if self.protocol == "file":
            return path
        if self.protocol == "s3":
            return f"s3://{path}"
        return f"{self.url.split('://', 1)[0]}://{urlsplit(self.url).netloc}/{path.lstrip('/')}"

    def wanted(self, path: str) -> bool:
        relative = path[len(self.root) :].lstrip("/").replace(os.sep, "/")
        if not relative:
            return False
        name = relative.rsplit("/", 1)[-1]
        hit = any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in self.patterns)
        return hit and not any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in self.ignore)

    async def scan(self) -> dict[str, FileState]:
        """The files in the folder now that pass the patterns."""
        try:
            found = await asyncio.to_thread(self._local if self.protocol == "file" else self._remote)
        except FileNotFoundError as exc:
            raise ScanFailed(f"{self.url}: the folder does not exist") from exc
        except (OSError, TimeoutError, EOFError) as exc:
            raise ScanFailed(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # botocore's errors and the like: the one boundary of the listing
            raise ScanFailed(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        return {path: state for path, state in found.items() if self.wanted(path)}

    def _local(self) -> dict[str, FileState]:
        if not os.path.isdir(self.root):
            raise FileNotFoundError(self.root)
        found: dict[str, FileState] = {}
        for folder, dirs, files in os.walk(self.root):
            if not self.recursive:
                dirs.clear()
            for name in files:
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:  # removed while listing
                    continue
                mtime = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat()
                found[path] = FileState(stat.st_size, str(stat.st_mtime_ns), mtime)
        return found

    def _remote(self) -> dict[str, FileState]:
        self.fs.invalidate_cache()
        listing = self.fs.find(self.root, maxdepth=None if self.recursive else 1, detail=True)
        found: dict[str, FileState] = {}
        for path, info in listing.items():
            if info.get("type") == "directory":
                continue
            size = int(info.get("size") or 0)
            if self.protocol == "s3":
                etag = str(info.get("ETag") or "").strip('"')
                modified = info.get("LastModified")
                mtime = modified.isoformat() if isinstance(modified, datetime) else None
                found[path] = FileState(size, etag, mtime, etag)
            else:
                modify = str(info.get("modify") or "")
                found[path] = FileState(size, modify, _ftp_time(modify))
        return found


def _ftp_time(modify: str) -> str | None:
    """MLSD's `modify` fact (`20261207103000` or with fractions) as ISO 8601 UTC."""
    try:
        return datetime.strptime(modify[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def _remote_fs(protocol: str, netloc: str, secrets: dict[str, str]) -> Any:
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError:
        raise SourceError("the files trigger needs fsspec: install the server extra", retryable=False) from None
    if protocol == "s3":
        if importlib.util.find_spec("s3fs") is None:  # fsspec loads it by name; say clearly what is missing
            raise SourceError("S3 folders need s3fs: install the server extra", retryable=False)
        client_kwargs = {"region_name": secrets["region"]} if secrets.get("region") else {}
        return fsspec.filesystem(
            "s3",
            key=secrets.get("access_key_id"),
            secret=secrets.get("secret_access_key"),
            endpoint_url=secrets.get("endpoint_url"),
            client_kwargs=client_kwargs,
            skip_instance_cache=True,
        )
    parts = urlsplit(f"ftp://{netloc}")
    return fsspec.filesystem(
        "ftp",
        host=parts.hostname,
        port=parts.port or 21,
        username=secrets.get("username") or "anonymous",
        password=secrets.get("password") or "",
        timeout=30,
        skip_instance_cache=True,
    )


def _local_root(text: str) -> str:
    """An absolute local folder (no I/O beyond the home folder's name)."""
    return os.path.abspath(os.path.expanduser(text))


async def open_folder(
    url: str, secrets: dict[str, str], *, recursive: bool, patterns: list[str], ignore: list[str]
) -> Folder:
    """Parse the folder URL and open its file system (remote ones in a worker thread)."""
    if "://" not in url or url.startswith("file://"):
        root = _local_root(url.removeprefix("file://"))
        return Folder(root, root, "file", recursive, tuple(patterns), tuple(ignore))
    parts = urlsplit(url)
    protocol = parts.scheme.lower()
    if protocol not in ("s3", "ftp"):
        raise SourceError(
            f"'{protocol}://' folders are not watched; use a local path, s3:// or ftp://", retryable=False
        )
    if protocol == "s3":
        root = shown = f"{parts.netloc}/{parts.path.strip('/')}".rstrip("/")
        shown = f"s3://{root}"
    else:
        root = parts.path.rstrip("/") or "/"
        shown = f"ftp://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
    try:
        fs = await asyncio.to_thread(_remote_fs, protocol, parts.netloc.rsplit("@", 1)[-1], secrets)
    except SourceError:
        raise
    except Exception as exc:  # a refused FTP login or connection: fsspec connects on creation
        raise ScanFailed(f"{shown}: {type(exc).__name__}: {exc}") from exc
    return Folder(shown, root, protocol, recursive, tuple(patterns), tuple(ignore), fs)
