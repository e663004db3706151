"""Copy, move, rename and delete files and folders, within one storage or across two.

Within one local disk or one bucket account the store copies by itself (`cp_file`: a kernel
copy locally, a server-side copy on S3). Across stores, or on FTP/SFTP, bytes are streamed in
`CHUNK`s from one open file into the other, so the size of a file never matters.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import Field, field_validator

from agent.steps.files import _multipart as multipart
from agent.steps.files._common import (
    CHUNK,
    RECYCLE_FOLDER,
    FilesParams,
    PathText,
    copy_stream,
    credential_field,
    path_field,
)
from agent.steps.files._errors import map_storage_errors
from agent.steps.files._fs import Storage, close_storage, open_storage, parse_location
from agent.steps.files._s3read import open_read
from shared.errors import BusinessError
from shared.steps import CREDENTIAL_NAME, context, step

# Stores that copy and move inside themselves without sending the bytes through the robot.
_NATIVE_COPY = ("file", "s3", "gs", "az")


class TransferParams(FilesParams):
    source: PathText = path_field("The file or folder to copy")
    destination: PathText = path_field(
        "Where to: a file path, or a folder (ending with `/`, or existing) to put the source in"
    )
    overwrite: bool = Field(default=False, description="Replace a destination file that exists.")
    credential: str | None = credential_field()
    destination_credential: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME,
        default=None,
        description="Credential for the destination when it differs from the source's.",
    )


@contextlib.contextmanager
def _two(params: TransferParams, action: str) -> Iterator[tuple[Storage, str, Storage, str, bool]]:
    """Both ends, locked; the flag says they are one file system (a rename can do a move)."""
    src, src_path = open_storage(params.source, params.credential)
    dst_credential = params.destination_credential or params.credential
    dst, dst_path = open_storage(params.destination, dst_credential)
    fresh = None
    same = src.fs is dst.fs
    if same and src.location.protocol not in _NATIVE_COPY:
        # One FTP/SFTP connection cannot read and write at once: a second one for the destination.
        fresh, dst_path = open_storage(params.destination, dst_credential, fresh=True)
        dst = fresh
    locks = sorted({id(s.lock): s.lock for s in (src, dst)}.items())
    try:
        with contextlib.ExitStack() as stack:
            for _, lock in locks:
                stack.enter_context(lock)
            with map_storage_errors(action, src, src_path):
                yield src, src_path, dst, dst_path, same
    finally:
        if fresh is not None:
            close_storage(fresh)


def _target(dst: Storage, dst_path: str, source_name: str, raw: str) -> str:
    if raw.endswith("/") or dst.fs.isdir(dst_path):
        return f"{dst_path.rstrip('/')}/{source_name}"
    return dst_path


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _files_below(src: Storage, root: str) -> list[tuple[str, str]]:
    """(path, path relative to root) of every file under a folder."""
    base = root.rstrip("/") + "/"
    return [(p, p.removeprefix(base)) for p in sorted(src.fs.find(root))]


# Object stores show an object only once its upload completes: no part file is needed there.
_ATOMIC_WRITES = ("s3", "gs", "az")


def _part_name(path: str) -> str:
    """Where a copy is written before it takes its name: beside it, hidden."""
    parent, _, name = path.rstrip("/").rpartition("/")
    return f"{parent}/.{name}.rpa-part"


@contextlib.contextmanager
def landing(dst: Storage, dst_path: str) -> Iterator[str]:
    """The path to write to; the file gets its real name only once whole, and a failed or
    cancelled copy leaves nothing behind, so a retry or a resumed execution starts clean."""
    temp = dst_path if dst.location.protocol in _ATOMIC_WRITES else _part_name(dst_path)
    try:
        yield temp
    except BaseException:
        with contextlib.suppress(Exception):
            if dst.fs.exists(temp):
                dst.fs.rm(temp)
        raise
    if temp != dst_path:
        if dst.location.protocol != "file" and dst.fs.exists(dst_path):
            dst.fs.rm(dst_path)  # an SFTP v3 rename does not replace; overwrite was checked before
        dst.fs.mv(temp, dst_path)


def _stream(src: Storage, src_path: str, dst: Storage, dst_path: str) -> int:
    if src.location.protocol == "file" and dst.location.protocol == "s3":
        # A local file's parts are read from it as they are sent, none held in memory.
        dst.fs.makedirs(dst.fs._parent(dst_path), exist_ok=True)
        with (
            map_storage_errors("reading", src, src_path),
            open(src_path, "rb") as source,
            map_storage_errors("writing", dst, dst_path),
        ):
            return multipart.upload_file(dst.fs, source, dst_path)
    with map_storage_errors("reading", src, src_path), open_read(src, src_path) as source:
        return write_from(source, dst, dst_path)


def write_from(source: IO[bytes], dst: Storage, dst_path: str) -> int:
    """Write `source` (read to its end) to `dst_path`, appearing only once whole; returns the bytes.

    To S3 the parts go out several at a time (`_multipart`); elsewhere in `CHUNK`s to a part file.
    """
    dst.fs.makedirs(dst.fs._parent(dst_path), exist_ok=True)
    with map_storage_errors("writing", dst, dst_path):
        if dst.location.protocol == "s3":
            return multipart.upload(dst.fs, source, dst_path)
        with landing(dst, dst_path) as temp, dst.fs.open(temp, "wb") as target:
            return copy_stream(source, target)


def _refuse_existing(dst: Storage, path: str, overwrite: bool) -> None:
    if not overwrite and dst.fs.exists(path):
        raise BusinessError(
            f"{dst.location.display(path)} exists already (set overwrite to replace it)",
            kind="exists",
            details={"path": dst.location.display(path)},
        )


def _copy(src: Storage, src_path: str, dst: Storage, target: str, overwrite: bool) -> tuple[int, int]:
    """Copy a file or a folder's files; returns (files, bytes)."""
    native = src.fs is dst.fs and src.location.protocol in _NATIVE_COPY
    if src.fs.isdir(src_path):
        files, total = 0, 0
        for path, relative in _files_below(src, src_path):
            count, size = _copy(src, path, dst, f"{target.rstrip('/')}/{relative}", overwrite)
            files, total = files + count, total + size
        return files, total
    _refuse_existing(dst, target, overwrite)
    if native:
        dst.fs.makedirs(dst.fs._parent(target), exist_ok=True)
        with map_storage_errors("copying", src, src_path):
            if src.location.protocol == "file":
                with landing(dst, target) as temp:
                    return 1, _local_copy(src_path, temp)
            src.fs.cp_file(src_path, target)
        return 1, int(src.fs.size(src_path) or 0)
    return 1, _stream(src, src_path, dst, target)


def _count(storage: Storage, path: str) -> tuple[int, int]:
    """(files, bytes) of a file or of everything below a folder."""
    if not storage.fs.isdir(path):
        return 1, int(storage.fs.size(path) or 0)
    found = storage.fs.find(path, detail=True).values()
    return len(found), sum(int(info.get("size") or 0) for info in found)


_KERNEL_CHUNK = 64 * 2**20


def _local_copy(source: str, target: str) -> int:
    """Copy inside the kernel (`copy_file_range`: no bytes through Python, a reflink where the file
    system has them), in pieces so a cancel is seen; `shutil` where the kernel cannot."""
    if not hasattr(os, "copy_file_range"):  # not Linux: shutil uses the platform's own fast copy
        shutil.copyfile(source, target)
        return os.path.getsize(target)
    ctx = context()
    with open(source, "rb") as reader, open(target, "wb") as writer:
        total = 0
        try:
            while copied := os.copy_file_range(reader.fileno(), writer.fileno(), _KERNEL_CHUNK):
                total += copied
                ctx.raise_if_cancelled()
            return total
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP) or total:
                raise
        shutil.copyfileobj(reader, writer, CHUNK)
        return writer.tell()


def _check_source(src: Storage, path: str) -> None:
    if not src.fs.exists(path):
        raise BusinessError(f"{src.location.display(path)} does not exist", kind="not_found")


@step("files.copy", params=TransferParams, output="{source, destination, files, bytes}.")
def copy(params: TransferParams) -> dict[str, Any]:
    """Copy a file or a folder (with everything in it), on one storage or from one to another.

    Streams in chunks: a multi-GB file never sits in memory. A destination that ends with `/` or
    is an existing folder receives the source under its own name.

    Example node:
        {"id": "upload", "type": "files.copy",
         "params": {"source": "/data/out/report.xlsx", "destination": "s3://reports/2026/",
                    "destination_credential": "s3-prod", "overwrite": true}}
    """
    with _two(params, "copying") as (src, src_path, dst, dst_path, _same):
        _check_source(src, src_path)
        target = _target(dst, dst_path, _name(src_path), params.destination)
        files, size = _copy(src, src_path, dst, target, params.overwrite)
    result = {"source": src.location.display(src_path), "destination": dst.location.display(target)}
    context().log(f"copied {files} file(s), {size} bytes: {result['source']} -> {result['destination']}")
    return {**result, "files": files, "bytes": size}


@step("files.move", params=TransferParams, output="{source, destination, files, bytes}.")
def move(params: TransferParams) -> dict[str, Any]:
    """Move a file or a folder; across storages it is copied, then the source is deleted.

    Example node:
        {"id": "done", "type": "files.move",
         "params": {"source": "{{ item.path }}", "destination": "/data/processed/"}}
    """
    with _two(params, "moving") as (src, src_path, dst, dst_path, same):
        _check_source(src, src_path)
        target = _target(dst, dst_path, _name(src_path), params.destination)
        if same:
            _refuse_existing(src, target, params.overwrite)
            src.fs.makedirs(src.fs._parent(target), exist_ok=True)
            files, size = _count(src, src_path)
            src.fs.mv(src_path, target, recursive=src.fs.isdir(src_path))
        else:
            files, size = _copy(src, src_path, dst, target, params.overwrite)
            src.fs.rm(src_path, recursive=True)
    result = {"source": src.location.display(src_path), "destination": dst.location.display(target)}
    context().log(f"moved {result['source']} -> {result['destination']}")
    return {**result, "files": files, "bytes": size}


class RenameParams(FilesParams):
    path: PathText = path_field("The file or folder to rename")
    new_name: str = Field(min_length=1, description="The new name (a name only, in the same folder).")
    overwrite: bool = Field(default=False, description="Replace a file of that name.")
    credential: str | None = credential_field()

    @field_validator("new_name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError("new_name is a plain name: use files.move to change folders")
        return value


@step("files.rename", params=RenameParams, output="The new path.")
def rename(params: RenameParams) -> str:
    """Rename a file or folder in its folder.

    Example node:
        {"id": "mark_done", "type": "files.rename", "params": {"path": "/data/in/order.csv",
         "new_name": "order.done.csv"}}
    """
    storage, path = open_storage(params.path, params.credential)
    with storage.lock, map_storage_errors("renaming", storage, path):
        _check_source(storage, path)
        target = f"{storage.fs._parent(path).rstrip('/')}/{params.new_name}"
        _refuse_existing(storage, target, params.overwrite)
        storage.fs.mv(path, target, recursive=storage.fs.isdir(path))
    return storage.location.display(target)


class DeleteParams(FilesParams):
    path: PathText = path_field("The file or folder to delete")
    permanent: bool = Field(
        default=False, description="Really delete; by default the item is moved to a recycle folder."
    )
    recycle_folder: PathText | None = Field(
        default=None,
        description=f"Where deleted items go (same storage); default: a `{RECYCLE_FOLDER}` folder beside the item.",
    )
    recursive: bool = Field(default=False, description="Allow deleting a folder with everything in it.")
    missing_ok: bool = Field(default=False, description="Succeed when the item does not exist.")
    credential: str | None = credential_field()


def _recycle_target(storage: Storage, path: str, folder: str | None) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    if folder is None:
        folder_path = f"{storage.fs._parent(path).rstrip('/')}/{RECYCLE_FOLDER}"
    else:
        other = parse_location(folder)
        if other.fs_key != storage.location.fs_key:
            raise BusinessError("recycle_folder must be on the same storage as the item", kind="validation")
        folder_path = other.path
    return f"{folder_path.rstrip('/')}/{stamp}-{_name(path)}"


@step("files.delete", params=DeleteParams, output="{path, deleted, recycled_to}: recycled_to is null when permanent.")
def delete(params: DeleteParams) -> dict[str, Any]:
    """Delete a file or folder: to a recycle folder by default, for good with `permanent`.

    A recycled item keeps its name behind a UTC time stamp (`.recycle/20261207T103000123456Z-report.pdf`).

    Example node:
        {"id": "clean", "type": "files.delete", "params": {"path": "{{ item.path }}"}}
    """
    storage, path = open_storage(params.path, params.credential)
    where = storage.location.display(path)
    with storage.lock, map_storage_errors("deleting", storage, path):
        if not storage.fs.exists(path):
            if params.missing_ok:
                return {"path": where, "deleted": False, "recycled_to": None}
            raise BusinessError(f"{where} does not exist", kind="not_found")
        is_dir = storage.fs.isdir(path)
        if is_dir and not params.recursive:
            raise BusinessError(f"{where} is a folder: set recursive to delete it with its content", kind="validation")
        if params.permanent:
            storage.fs.rm(path, recursive=is_dir)
            recycled = None
        else:
            target = _recycle_target(storage, path, params.recycle_folder)
            storage.fs.makedirs(storage.fs._parent(target), exist_ok=True)
            storage.fs.mv(path, target, recursive=is_dir)
            recycled = storage.location.display(target)
    context().log(f"deleted {where}" + (f" (recycled to {recycled})" if recycled else " permanently"))
    return {"path": where, "deleted": True, "recycled_to": recycled}
