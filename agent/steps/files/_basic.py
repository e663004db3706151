"""Look at and read or write single files: list, exists, read/write text and bytes, folders, hash."""

from __future__ import annotations

import base64
import fnmatch
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from agent.steps.files._common import (
    CHUNK,
    RECYCLE_FOLDER,
    FilesParams,
    PathText,
    credential_field,
    entry,
    new_hash,
    path_field,
    storage_for,
)
from agent.steps.files._s3read import open_read
from shared.errors import BusinessError
from shared.steps import context, step

_MAX_READ = 10 * 2**20


class ListParams(FilesParams):
    path: PathText = path_field("The folder to list")
    pattern: str = Field(
        default="*",
        description="Glob on the name (`*.pdf`), or on the path below `path` when it has a `/` (`2026/*/in_*.csv`).",
    )
    recursive: bool = Field(default=False, description="Look into sub-folders too.")
    kind: Literal["files", "folders", "all"] = Field(default="files", description="Which entries to return.")
    min_size: int | None = Field(default=None, ge=0, description="Only files of at least this many bytes.")
    max_size: int | None = Field(default=None, ge=0, description="Only files of at most this many bytes.")
    older_than_s: float | None = Field(default=None, ge=0, description="Only entries modified this long ago or more.")
    newer_than_s: float | None = Field(
        default=None, ge=0, description="Only entries modified within this many seconds."
    )
    include_recycled: bool = Field(default=False, description="Also list what files.delete put in `.recycle` folders.")
    limit: int = Field(default=10_000, ge=1, le=1_000_000, description="At most this many rows (sorted by path).")
    credential: str | None = credential_field()


def _matches(row: dict[str, Any], relative: str, params: ListParams, now: datetime) -> bool:
    if params.kind != "all" and row["type"] != params.kind[:-1]:
        return False
    target = relative if "/" in params.pattern else row["name"]
    if not fnmatch.fnmatchcase(target, params.pattern):
        return False
    if params.min_size is not None and row["size"] < params.min_size:
        return False
    if params.max_size is not None and row["size"] > params.max_size:
        return False
    if params.older_than_s is None and params.newer_than_s is None:
        return True
    if row["modified"] is None:
        return False
    age = now - datetime.fromisoformat(row["modified"])
    if params.older_than_s is not None and age < timedelta(seconds=params.older_than_s):
        return False
    return params.newer_than_s is None or age <= timedelta(seconds=params.newer_than_s)


@step("files.list", params=ListParams, output="A table: path, name, type (file|folder), size, modified.", effects=False)
def list_files(params: ListParams) -> list[dict[str, Any]]:
    """List the files (and folders) of a folder, filtered by name, size and age.

    `modified` is an ISO 8601 UTC time. Rows are sorted by path; `path` is a URL other
    `files.*` steps accept as it is.

    Example node:
        {"id": "new_invoices", "type": "files.list",
         "params": {"path": "s3://inbox/invoices", "pattern": "*.pdf", "recursive": true,
                    "newer_than_s": 86400, "credential": "s3-prod"}}
    """
    with storage_for(params.path, params.credential, "listing") as (storage, root):
        fs = storage.fs
        if not fs.isdir(root):
            raise BusinessError(f"{storage.location.display(root)} is not a folder", kind="not_found")
        if params.recursive:
            found = fs.find(root, withdirs=params.kind != "files", detail=True)
            infos = list(found.values())
        else:
            infos = fs.ls(root, detail=True)
    now = datetime.now(UTC).replace(tzinfo=None)
    base = root.rstrip("/") + "/"
    rows = []
    for info in infos:
        row = entry(storage, info)
        name = str(info["name"]).rstrip("/")
        if name == root.rstrip("/"):  # find(withdirs=True) lists the folder itself
            continue
        relative = name.removeprefix(base)
        if not params.include_recycled and RECYCLE_FOLDER in relative.split("/"):
            continue
        if _matches(row, relative, params, now):
            rows.append(row)
    rows.sort(key=lambda r: r["path"])
    return rows[: params.limit]


class PathParams(FilesParams):
    path: PathText = path_field("The file or folder")
    credential: str | None = credential_field()


@step("files.exists", params=PathParams, output="True when the file or folder exists.", effects=False)
def exists(params: PathParams) -> bool:
    """Say whether a file or folder exists.

    Example node:
        {"id": "has_report", "type": "files.exists", "params": {"path": "/data/out/report.xlsx"}}
    """
    with storage_for(params.path, params.credential, "looking for") as (storage, path):
        return bool(storage.fs.exists(path))


class ReadParams(FilesParams):
    path: PathText = path_field("The file to read")
    max_bytes: int = Field(
        default=_MAX_READ,
        ge=1,
        le=100 * 2**20,
        description="Refuse larger files: the content becomes the node's output (use files.copy for big files).",
    )
    credential: str | None = credential_field()


class ReadTextParams(ReadParams):
    encoding: str = Field(default="utf-8", description="Text encoding (utf-8, utf-8-sig, latin-1, cp1252, ...).")


def _read(params: ReadParams) -> tuple[bytes, str]:
    with storage_for(params.path, params.credential, "reading") as (storage, path):
        size = storage.fs.size(path)
        if size is not None and size > params.max_bytes:
            raise BusinessError(
                f"{storage.location.display(path)} has {size} bytes, more than max_bytes={params.max_bytes}",
                kind="too_large",
            )
        with storage.fs.open(path, "rb") as handle:
            data: bytes = handle.read(params.max_bytes + 1)
    if len(data) > params.max_bytes:
        raise BusinessError(
            f"{storage.location.display(path)} grew past max_bytes={params.max_bytes}", kind="too_large"
        )
    return data, storage.location.display(path)


@step("files.read_text", params=ReadTextParams, output="The file's text.", effects=False)
def read_text(params: ReadTextParams) -> str:
    """Read a text file.

    Example node:
        {"id": "read", "type": "files.read_text", "params": {"path": "ftp://files.example.com/in/orders.csv",
         "credential": "partner-ftp", "encoding": "cp1252"}}
    """
    data, where = _read(params)
    try:
        return data.decode(params.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise BusinessError(f"{where} is not {params.encoding} text: {exc}", kind="data") from None


@step("files.read_bytes", params=ReadParams, output="The file's bytes, base64-encoded.", effects=False)
def read_bytes(params: ReadParams) -> str:
    """Read a binary file as base64 text (for HTTP bodies, e-mail attachments, other steps).

    Example node:
        {"id": "logo", "type": "files.read_bytes", "params": {"path": "/data/logo.png"}}
    """
    return base64.b64encode(_read(params)[0]).decode("ascii")


class WriteParams(FilesParams):
    path: PathText = path_field("The file to write")
    mode: Literal["overwrite", "append", "create"] = Field(
        default="overwrite", description="`create` fails when the file exists; `append` adds at the end (local, FTP)."
    )
    make_folders: bool = Field(default=True, description="Create the missing parent folders.")
    credential: str | None = credential_field()


class WriteTextParams(WriteParams):
    text: str = Field(description="The text to write.")
    encoding: str = Field(default="utf-8", description="Text encoding.")


class WriteBytesParams(WriteParams):
    data: str = Field(description="The bytes to write, base64-encoded (as files.read_bytes returns them).")


def _write(params: WriteParams, data: bytes) -> dict[str, Any]:
    with storage_for(params.path, params.credential, "writing") as (storage, path):
        fs = storage.fs
        if params.mode == "create" and fs.exists(path):
            raise BusinessError(f"{storage.location.display(path)} exists already (mode 'create')", kind="exists")
        if params.make_folders:
            fs.makedirs(fs._parent(path), exist_ok=True)
        with fs.open(path, "ab" if params.mode == "append" else "wb") as handle:
            for start in range(0, len(data), CHUNK):
                handle.write(data[start : start + CHUNK])
    context().log(f"wrote {len(data)} bytes to {storage.location.display(path)}")
    return {"path": storage.location.display(path), "size": len(data)}


@step("files.write_text", params=WriteTextParams, output="{path, size}: the file written and its size in bytes.")
def write_text(params: WriteTextParams) -> dict[str, Any]:
    """Write text to a file (created, overwritten or appended to).

    Example node:
        {"id": "save", "type": "files.write_text",
         "params": {"path": "/data/out/summary.txt", "text": "{{ steps.summary.output }}"}}
    """
    try:
        data = params.text.encode(params.encoding)
    except (UnicodeEncodeError, LookupError) as exc:
        raise BusinessError(f"the text cannot be written as {params.encoding}: {exc}", kind="data") from None
    return _write(params, data)


@step("files.write_bytes", params=WriteBytesParams, output="{path, size}: the file written and its size in bytes.")
def write_bytes(params: WriteBytesParams) -> dict[str, Any]:
    """Write base64-encoded bytes to a file.

    Example node:
        {"id": "save_pdf", "type": "files.write_bytes",
         "params": {"path": "/data/out/invoice.pdf", "data": "{{ steps.download.output.body_base64 }}"}}
    """
    try:
        data = base64.b64decode(params.data, validate=True)
    except ValueError:
        raise BusinessError("'data' is not valid base64", kind="data") from None
    return _write(params, data)


@step("files.make_folder", params=PathParams, output="The folder's path.")
def make_folder(params: PathParams) -> str:
    """Create a folder and its missing parents (nothing happens when it exists).

    Example node:
        {"id": "outbox", "type": "files.make_folder", "params": {"path": "/data/out/{{ execution.id }}"}}
    """
    with storage_for(params.path, params.credential, "creating the folder") as (storage, path):
        storage.fs.makedirs(path, exist_ok=True)
    return storage.location.display(path)


class HashParams(FilesParams):
    path: PathText = path_field("The file to hash")
    algorithm: Literal["sha256", "sha1", "md5"] = Field(default="sha256", description="The hash function.")
    credential: str | None = credential_field()


@step("files.hash", params=HashParams, output="The hex digest of the file's content.", effects=False)
def hash_file(params: HashParams) -> str:
    """Hash a file's content, streamed in chunks (files of any size).

    Example node:
        {"id": "checksum", "type": "files.hash", "params": {"path": "s3://archive/2026/12.zip",
         "algorithm": "sha256", "credential": "s3-prod"}}
    """
    digest = new_hash(params.algorithm)
    ctx = context()
    with storage_for(params.path, params.credential, "hashing") as (storage, path), open_read(storage, path) as f:
        while chunk := f.read(CHUNK):
            ctx.raise_if_cancelled()
            digest.update(chunk)
    return str(digest.hexdigest())
