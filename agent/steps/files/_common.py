"""What the `files.*` steps share: the params base, entries as table rows, chunked streaming."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agent.steps.files._errors import map_storage_errors
from agent.steps.files._fs import Storage, check_path, open_storage
from shared.steps import CREDENTIAL_NAME, context

CHUNK = 4 * 2**20
"""Bytes read and written at a time: a file of any size never sits in memory whole."""
RECYCLE_FOLDER = ".recycle"
"""Where `files.delete` puts an item by default: a folder of this name beside it."""

PathText = Annotated[str, AfterValidator(check_path)]


class FilesParams(BaseModel):
    """Base of every `files.*` params model."""

    # A refused value (a URL with a password) is never quoted back in an error.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


def credential_field() -> Any:
    return Field(
        default=None,
        json_schema_extra=CREDENTIAL_NAME,
        description="Name of the vault credential for this storage (s3://, ftp://, sftp://, gs://, az://); "
        "none for local paths or the environment's default credentials.",
    )


def path_field(what: str) -> Any:
    return Field(description=f"{what}: a local path or a storage URL (s3://bucket/key, ftp://host/dir/file, ...).")


@contextlib.contextmanager
def storage_for(path: str, credential: str | None, action: str) -> Iterator[tuple[Storage, str]]:
    """Open `path`'s storage and hold its lock; errors inside become `StepError`s naming `action`."""
    storage, inner = open_storage(path, credential)
    with storage.lock, map_storage_errors(action, storage, inner):
        yield storage, inner


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, str) and len(value) >= 14 and value[:14].isdigit():  # FTP MLSD: 20261207103000
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").isoformat(timespec="seconds")
    return None


def modified(info: dict[str, Any]) -> str | None:
    """The entry's last modification as an ISO 8601 UTC string, whatever the file system calls it."""
    for key in ("mtime", "LastModified", "last_modified", "modify", "updated", "time"):
        if info.get(key) is not None and (found := _iso(info[key])) is not None:
            return found
    return None


def entry(storage: Storage, info: dict[str, Any]) -> dict[str, Any]:
    """One file or folder as a table row: path (URL), name, type, size, modified."""
    name = str(info["name"]).rstrip("/")
    is_dir = info.get("type") == "directory"
    return {
        "path": storage.location.display(name),
        "name": name.rsplit("/", 1)[-1],
        "type": "folder" if is_dir else "file",
        "size": 0 if is_dir else int(info.get("size") or 0),
        "modified": modified(info),
    }


def copy_stream(
    source: Any, target: Any, *, on_chunk: Callable[[bytes], None] | None = None, limit: int | None = None
) -> int:
    """Copy one open binary file into another in `CHUNK`s; returns the bytes copied.

    Cancellation is checked between chunks. `limit` stops with a `StepError` past that many bytes.
    """
    ctx = context()
    total = 0
    while chunk := source.read(CHUNK):
        ctx.raise_if_cancelled()
        total += len(chunk)
        if limit is not None and total > limit:
            raise OverflowError(total)
        if on_chunk is not None:
            on_chunk(chunk)
        target.write(chunk)
    return total


def new_hash(algorithm: str) -> Any:
    """A hashlib object; md5 and sha1 are for checksums, not security."""
    return hashlib.new(algorithm, usedforsecurity=algorithm == "sha256")
