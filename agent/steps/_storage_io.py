"""Storage URLs for every step family that reads or writes a file.

The `files.*` family owns the storage layer (`agent.steps.files._fs`: parsing, credentials from
the vault, one file system per execution, URL masking, error translation). The other families
(Excel/CSV, e-mail, HTTP, PDF, Word) reach a storage URL only through this module, so that
credential handling and the "whole or nothing" write rule live in one place:

- `local_copy` / `storage_path`: libraries that need a real file (openpyxl, calamine, pdfium)
  get one: a URL is downloaded in chunks into a private temporary folder, and, for steps that
  change the file, uploaded back when the step succeeds; the temporary folder is removed either
  way. Local paths pass through untouched.
- `open_for_read` / `open_for_write`: a streamed binary file, for callers that copy bytes
  (attachments, multipart uploads). A write lands under a hidden `.part` name (or, on object
  stores, as an upload that shows only once complete) and takes its real name only when whole.

Errors name the URL without userinfo; messages of the wrapped step that quote the temporary
path quote the URL instead.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from pydantic import Field

from agent.steps.files._common import copy_stream
from agent.steps.files._errors import map_storage_errors
from agent.steps.files._fs import Storage, open_storage
from agent.steps.files._transfer import landing, write_from
from shared.errors import BusinessError, StepError
from shared.steps import CREDENTIAL_NAME

__all__ = [
    "display",
    "exists",
    "is_url",
    "local_copy",
    "open_for_read",
    "open_for_write",
    "storage_credential_field",
    "storage_path",
    "store_file",
]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
Mode = Literal["read", "write", "create"]
F = TypeVar("F", bound=Callable[..., Any])


def is_url(path: str) -> bool:
    """True for a storage URL (`s3://`, `sftp://`, ...); `file://` and plain paths are local."""
    return bool(_URL.match(path)) and not path.lower().startswith("file://")


def storage_credential_field() -> Any:
    """The `storage_credential` param every family that takes a path offers."""
    return Field(
        default=None,
        json_schema_extra=CREDENTIAL_NAME,
        description="Name of the vault credential for a storage URL in the path (s3://, sftp://, ftp://, "
        "gs://, az://); none for local paths.",
    )


def display(path: str) -> str:
    """`path` as shown to people: a URL without userinfo, a local path as given."""
    if not is_url(path):
        return path
    from agent.steps.files._fs import parse_location

    try:
        return parse_location(path).display()
    except ValueError:
        return path.split("://", 1)[0] + "://…"


def _open(path: str, credential: str | None) -> tuple[Storage, str]:
    return open_storage(path, credential)


def exists(path: str, credential: str | None = None) -> bool:
    """Whether a file (or folder) is at `path`."""
    if not is_url(path):
        return Path(path).expanduser().exists()
    storage, inner = _open(path, credential)
    with storage.lock, map_storage_errors("checking", storage, inner):
        return bool(storage.fs.exists(inner))


@contextlib.contextmanager
def open_for_read(path: str, credential: str | None = None) -> Iterator[IO[bytes]]:
    """A binary reader of the file at `path` (streamed from the storage, seekable).

    Raises:
        BusinessError: kind `file_not_found` when nothing is there.
        StepError: a storage error, translated at the files family's boundary.
    """
    if not is_url(path):
        file = Path(path).expanduser()
        if not file.is_file():
            raise BusinessError(f"{file} does not exist", kind="file_not_found", details={"path": str(file)})
        with file.open("rb") as reader:
            yield reader
        return
    storage, inner = _open(path, credential)
    with storage.lock, map_storage_errors("reading", storage, inner):
        if not storage.fs.isfile(inner):
            where = storage.location.display(inner)
            raise BusinessError(f"{where} does not exist", kind="file_not_found", details={"path": where})
        with storage.fs.open(inner, "rb") as reader:
            yield reader


@contextlib.contextmanager
def open_for_write(path: str, credential: str | None = None, *, overwrite: bool = True) -> Iterator[IO[bytes]]:
    """A binary writer to `path`; the file appears under its name only when the block succeeds.

    Raises:
        BusinessError: kind `exists` when a file is there and `overwrite` is off.
    """
    if not is_url(path):
        yield from _write_local(Path(path).expanduser(), overwrite)
        return
    storage, inner = _open(path, credential)
    where = storage.location.display(inner)
    with storage.lock, map_storage_errors("writing", storage, inner):
        if not overwrite and storage.fs.exists(inner):
            raise BusinessError(f"{where} exists already (set overwrite to replace it)", kind="exists")
        storage.fs.makedirs(storage.fs._parent(inner), exist_ok=True)
        with landing(storage, inner) as temp:
            writer = storage.fs.open(temp, "wb")
            try:
                yield writer
            except BaseException:
                _discard(writer)
                raise
            writer.close()


def _discard(writer: Any) -> None:
    """Drop an unfinished write: on S3 abort its multipart upload rather than let close()
    complete it with the parts sent so far; elsewhere close it (the part file is removed)."""
    if hasattr(writer, "discard") and hasattr(writer, "mpu"):
        writer.discard()
        writer.closed = True  # its buffer is gone: nothing is left to close
    else:
        writer.close()


def _write_local(target: Path, overwrite: bool) -> Iterator[IO[bytes]]:
    if not overwrite and target.exists():
        raise BusinessError(f"{target} exists already (set overwrite to replace it)", kind="exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.rpa-part")
    try:
        with partial.open("wb") as writer:
            yield writer
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def local_copy(path: str, credential: str | None = None, *, mode: Mode = "read") -> Iterator[Path]:
    """A local file standing for `path` while the block runs.

    Args:
        path: a local path (yielded as is) or a storage URL.
        credential: the vault credential of the storage.
        mode: `read`: the file must exist and is downloaded; `write`: downloaded when it exists,
            uploaded when the block succeeds; `create`: not downloaded, uploaded when the block
            succeeds (the file is written from scratch).
    """
    if not is_url(path):
        yield Path(path).expanduser()
        return
    folder = Path(tempfile.mkdtemp(prefix="rpa-storage-"))
    name = path.rstrip("/").rsplit("/", 1)[-1] or "file"
    local = folder / name
    try:
        if mode == "read" or (mode == "write" and exists(path, credential)):
            with open_for_read(path, credential) as reader, local.open("wb") as writer:
                copy_stream(reader, writer)
        try:
            yield local
        except StepError as exc:
            raise _retold(exc, str(local), display(path)) from None
        if mode != "read" and local.exists():
            store_file(local, path, credential)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def store_file(local: Path, path: str, credential: str | None = None, *, overwrite: bool = True) -> None:
    """Upload a local file to `path` in chunks; it appears there only once whole."""
    if not is_url(path):
        with local.open("rb") as reader, open_for_write(path, credential, overwrite=overwrite) as writer:
            copy_stream(reader, writer)
        return
    storage, inner = _open(path, credential)
    with storage.lock, map_storage_errors("writing", storage, inner):
        if not overwrite and storage.fs.exists(inner):
            raise BusinessError(f"{storage.location.display(inner)} exists already (set overwrite to replace it)")
    with storage.lock, local.open("rb") as reader:
        write_from(reader, storage, inner)


def _retold(exc: StepError, local: str, url: str) -> StepError:
    """The same error, speaking of the URL where it spoke of the temporary file."""
    if local not in exc.message and local not in str(exc.details):
        return exc
    details = {k: v.replace(local, url) if isinstance(v, str) else v for k, v in exc.details.items()}
    return type(exc)(exc.message.replace(local, url), kind=exc.kind, retryable=exc.retryable, details=details)


def _swap(value: Any, local: str, url: str) -> Any:
    """A step's output with the temporary path put back as the URL."""
    if isinstance(value, str):
        return value.replace(local, url)
    if isinstance(value, dict):
        return {k: _swap(v, local, url) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v, local, url) for v in value]
    return value


def storage_path(mode: Mode | Callable[[Any], Mode], field: str = "path") -> Callable[[F], F]:
    """Let a sync step whose `field` names a local file take a storage URL there too.

    The step runs on a local copy (see `local_copy`); its output and errors name the URL. The
    params model has a `storage_credential` field. `mode` may be a function of the params
    (`csv.write` creates in `replace` mode, changes in `append` mode).
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def run(params: Any) -> Any:
            path = getattr(params, field)
            if not isinstance(path, str) or not is_url(path):
                return fn(params)
            chosen = mode(params) if callable(mode) else mode
            with local_copy(path, params.storage_credential, mode=chosen) as local:
                result = fn(params.model_copy(update={field: str(local)}))
            return _swap(result, str(local), display(path))

        return run  # type: ignore[return-value]

    return decorate
