"""Zip and unzip, streamed, with limits that refuse zip bombs and entries escaping the folder.

An archive is checked whole before anything is written: its entry names (no absolute path, no
`..`, no drive, no symbolic link), its number of files, its total uncompressed size and its
compression ratio. Extraction then streams each entry in chunks and counts what really comes out,
so a header that lies about sizes cannot get past the limits either.
"""

from __future__ import annotations

import contextlib
import posixpath
import stat
import zipfile
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from agent.steps.files._common import (
    CHUNK,
    FilesParams,
    PathText,
    copy_stream,
    credential_field,
    modified,
    path_field,
)
from agent.steps.files._errors import map_storage_errors
from agent.steps.files._fs import Storage, open_storage
from shared.errors import BusinessError
from shared.steps import CREDENTIAL_NAME, context, step

_SMALL = 2**20
"""Entries below this size may compress as well as they like (a page of spaces is no bomb)."""


class ZipParams(FilesParams):
    sources: list[PathText] = Field(min_length=1, description="Files and folders to put in the archive.")
    destination: PathText = path_field("The .zip file to write")
    compression: Literal["deflated", "stored"] = Field(default="deflated", description="`stored` does not compress.")
    level: int = Field(default=6, ge=0, le=9, description="Deflate level: 1 fastest, 9 smallest.")
    overwrite: bool = Field(default=False, description="Replace an archive that exists.")
    credential: str | None = credential_field()
    destination_credential: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME, default=None, description="Credential for the archive's storage."
    )


def _members(storage: Storage, path: str) -> list[tuple[str, str, Any]]:
    """(path, name in the archive, info) of a file, or of every file below a folder."""
    fs = storage.fs
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if not fs.isdir(path):
        return [(path, name, fs.info(path))]
    base = path.rstrip("/") + "/"
    found = fs.find(path, detail=True)
    return [(p, f"{name}/{p.removeprefix(base)}", info) for p, info in sorted(found.items())]


def _date_time(info: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    stamp = modified(info)
    moment = datetime.fromisoformat(stamp) if stamp else datetime.now()
    moment = max(moment, datetime(1980, 1, 1))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


@step("files.zip", params=ZipParams, output="{path, files, bytes, size}: bytes before and size after compression.")
def zip_files(params: ZipParams) -> dict[str, Any]:
    """Put files and folders into a .zip archive (streamed; Zip64 for large files).

    Folders keep their name at the top of the archive (`reports/2026/a.pdf`).

    Example node:
        {"id": "pack", "type": "files.zip",
         "params": {"sources": ["/data/out/reports"], "destination": "/data/archive/reports.zip"}}
    """
    dst, dst_path = open_storage(params.destination, params.destination_credential or params.credential)
    method = zipfile.ZIP_DEFLATED if params.compression == "deflated" else zipfile.ZIP_STORED
    files, total = 0, 0
    with dst.lock, map_storage_errors("writing the archive", dst, dst_path):
        if not params.overwrite and dst.fs.exists(dst_path):
            raise BusinessError(f"{dst.location.display(dst_path)} exists already (set overwrite)", kind="exists")
        dst.fs.makedirs(dst.fs._parent(dst_path), exist_ok=True)
        with (
            dst.fs.open(dst_path, "wb") as handle,
            zipfile.ZipFile(handle, "w", method, compresslevel=params.level) as zf,
        ):
            for source in params.sources:
                src, src_path = open_storage(source, params.credential)
                with map_storage_errors("adding to the archive", src, src_path):
                    for path, name, info in _members(src, src_path):
                        entry = zipfile.ZipInfo(name, _date_time(info))
                        entry.compress_type = method
                        with src.fs.open(path, "rb") as reader, zf.open(entry, "w", force_zip64=True) as writer:
                            total += copy_stream(reader, writer)
                        files += 1
        size = int(dst.fs.size(dst_path) or 0)
    where = dst.location.display(dst_path)
    context().log(f"zipped {files} file(s), {total} bytes into {where} ({size} bytes)")
    return {"path": where, "files": files, "bytes": total, "size": size}


class UnzipParams(FilesParams):
    source: PathText = path_field("The .zip file")
    destination: PathText = path_field("The folder to extract into (created when missing)")
    max_total_bytes: int = Field(default=2**30, ge=1, description="Refuse archives that unpack to more bytes (1 GiB).")
    max_files: int = Field(default=10_000, ge=1, description="Refuse archives with more entries.")
    max_ratio: float = Field(
        default=100.0, ge=1, description="Refuse entries (over 1 MiB) and archives compressed more than this ratio."
    )
    overwrite: bool = Field(default=False, description="Replace files that exist in the destination.")
    credential: str | None = credential_field()
    destination_credential: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME, default=None, description="Credential for the destination's storage."
    )


def _unsafe(name: str) -> str | None:
    """Why an entry name is refused, or None."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "climbs out of the destination folder ('..')"
    if "\x00" in name:
        return "contains a NUL character"
    return None


def _check(archive: zipfile.ZipFile, params: UnzipParams, where: str) -> list[zipfile.ZipInfo]:
    entries = archive.infolist()

    def refuse(why: str) -> BusinessError:
        return BusinessError(f"{where} refused: {why}", kind="unsafe_archive", details={"path": where})

    if len(entries) > params.max_files:
        raise refuse(f"{len(entries)} entries, more than max_files={params.max_files}")
    total = sum(e.file_size for e in entries)
    packed = sum(e.compress_size for e in entries)
    if total > params.max_total_bytes:
        raise refuse(f"it unpacks to {total} bytes, more than max_total_bytes={params.max_total_bytes}")
    if total > _SMALL and total / max(packed, 1) > params.max_ratio:
        raise refuse(f"compression ratio {total / max(packed, 1):.0f}, more than max_ratio={params.max_ratio:g}")
    for e in entries:
        if (why := _unsafe(e.filename)) is not None:
            raise refuse(f"entry '{e.filename}' {why}")
        if stat.S_ISLNK(e.external_attr >> 16):
            raise refuse(f"entry '{e.filename}' is a symbolic link")
        if e.file_size > _SMALL and e.file_size / max(e.compress_size, 1) > params.max_ratio:
            raise refuse(f"entry '{e.filename}' has compression ratio {e.file_size / max(e.compress_size, 1):.0f}")
    return entries


@step("files.unzip", params=UnzipParams, output="{destination, files, bytes, paths}: the files extracted.")
def unzip(params: UnzipParams) -> dict[str, Any]:
    """Extract a .zip archive into a folder, refusing zip bombs and unsafe entry names.

    The whole archive is checked before anything is written; see the limits in the params.
    Errors of kind `unsafe_archive` are never retried.

    Example node:
        {"id": "unpack", "type": "files.unzip",
         "params": {"source": "{{ item.path }}", "destination": "/data/in/unpacked/"}}
    """
    src, src_path = open_storage(params.source, params.credential)
    dst, dst_root = open_storage(params.destination, params.destination_credential or params.credential)
    where = src.location.display(src_path)
    paths: list[str] = []
    total = 0
    with src.lock, map_storage_errors("unzipping", src, src_path), src.fs.open(src_path, "rb", block_size=CHUNK) as raw:
        try:
            archive = zipfile.ZipFile(raw)
        except zipfile.BadZipFile as exc:
            raise BusinessError(f"{where} is not a zip archive: {exc}", kind="data") from None
        with archive:
            entries = _check(archive, params, where)
            for e in entries:
                target = posixpath.join(dst_root.rstrip("/"), posixpath.normpath(e.filename.replace("\\", "/")))
                with map_storage_errors("extracting to", dst, target):
                    total += _extract(archive, e, dst, target, params, total)
                if not e.is_dir():
                    paths.append(dst.location.display(target))
    context().log(f"extracted {len(paths)} file(s), {total} bytes from {where}")
    return {"destination": dst.location.display(dst_root), "files": len(paths), "bytes": total, "paths": paths}


def _extract(
    archive: zipfile.ZipFile, e: zipfile.ZipInfo, dst: Storage, target: str, params: UnzipParams, so_far: int
) -> int:
    if e.is_dir():
        dst.fs.makedirs(target, exist_ok=True)
        return 0
    if not params.overwrite and dst.fs.exists(target):
        raise BusinessError(f"{dst.location.display(target)} exists already (set overwrite)", kind="exists")
    dst.fs.makedirs(dst.fs._parent(target), exist_ok=True)
    budget = params.max_total_bytes - so_far
    written = 0
    try:
        with archive.open(e) as reader, dst.fs.open(target, "wb") as writer:
            while chunk := reader.read(CHUNK):
                context().raise_if_cancelled()
                written += len(chunk)
                if written > budget or written > e.file_size:
                    raise BusinessError(
                        f"'{e.filename}' unpacks to more than its header says: refused", kind="unsafe_archive"
                    )
                writer.write(chunk)
    except BaseException:
        # No half-written file is left behind to be taken for a whole one.
        with contextlib.suppress(Exception):
            dst.fs.rm(target)
        raise
    return written
