"""The one boundary where file-system and storage errors become `StepError`s.

    OSError (local, s3fs, fsspec FTP/SFTP)      -> StepError
    ├── FileNotFoundError                       kind `not_found`, not retried
    ├── FileExistsError                         kind `exists`, not retried
    ├── PermissionError                         kind `permission`, not retried (`auth` while connecting)
    ├── IsADirectoryError / NotADirectoryError  kind `path`, not retried
    ├── ConnectionError / TimeoutError          kind `connection`, retried
    └── any other OSError                       kind `io`, retried
    ftplib.error_perm 530 (login refused)       kind `auth`, not retried
    ftplib.error_perm (other 5xx)               kind `permission`, not retried
    asyncssh HostKeyNotVerifiable               kind `auth`, not retried (the server's key is unknown)
    ftplib.error_temp / asyncssh / botocore     kind `connection`, retried
    zipfile.BadZipFile (bad CRC, damaged entry) kind `data`, not retried

Messages name the operation and the URL without userinfo, and any credential value the file
system was opened with is scrubbed from the library's own text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from agent.steps.files._fs import Storage
from shared.errors import StepError

CONNECTING = "connecting to"
_NOT_RETRIED: tuple[tuple[type[OSError], str], ...] = (
    (FileNotFoundError, "not_found"),
    (FileExistsError, "exists"),
    (PermissionError, "permission"),
    (IsADirectoryError, "path"),
    (NotADirectoryError, "path"),
)


def _ftp_error(exc: Exception) -> tuple[str, bool] | None:
    import ftplib

    if isinstance(exc, ftplib.error_perm):
        return ("auth", False) if str(exc).startswith("530") else ("permission", False)
    if isinstance(exc, ftplib.error_temp | ftplib.error_reply | ftplib.error_proto | EOFError):
        return "connection", True
    return None


def _classify(exc: Exception) -> tuple[str, bool]:
    for cls, kind in _NOT_RETRIED:
        if isinstance(exc, cls):
            return kind, False
    if isinstance(exc, ConnectionError | TimeoutError):
        return "connection", True
    if type(exc).__module__ == "zipfile":  # BadZipFile: a damaged archive, retrying cannot help
        return "data", False
    ftp = _ftp_error(exc)
    if ftp is not None:
        return ftp
    module = type(exc).__module__.split(".")[0]
    if module in ("botocore", "aiobotocore", "asyncssh", "aiohttp"):
        name = type(exc).__name__
        if any(word in name for word in ("Credential", "Permission", "Auth", "HostKey")):
            return "auth", False
        return "connection", True
    return "io", True


def _reason(exc: BaseException, storage: Storage) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file or folder"
    # An OSError's text repeats the path the message names already: keep only the reason.
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror and exc.filename else str(exc).strip()
    return storage.scrub(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


@contextlib.contextmanager
def map_storage_errors(action: str, storage: Storage, path: str | None = None) -> Iterator[None]:
    """Translate what the file system raises while doing `action` on `path` into a `StepError`.

    Args:
        action: what was being done, as a verb phrase (`copying`, `listing`).
        storage: the file system in use (its location names the URL; its secrets are scrubbed).
        path: the path inside the file system (default: the storage's own location).
    """
    try:
        yield
    except StepError:
        raise
    except (OSError, EOFError) as exc:
        raise _translate(exc, action, storage, path) from None
    except Exception as exc:
        # Library-specific errors (botocore, asyncssh, ftplib's non-OSError ones) land here; a
        # plain ValueError or TypeError is a bug of ours and goes to the engine as `internal`.
        if type(exc).__module__.split(".")[0] in ("builtins", "agent", "shared", "pydantic"):
            raise
        raise _translate(exc, action, storage, path) from None


def _translate(exc: Exception, action: str, storage: Storage, path: str | None) -> StepError:
    kind, retryable = _classify(exc)
    if action == CONNECTING and kind == "permission":  # refused before any file was touched: the login
        kind = "auth"
    where = storage.location.display(path)
    return StepError(
        f"{action} {where} failed: {_reason(exc, storage)}",
        kind=kind,
        retryable=retryable,
        details={"path": where, "error": type(exc).__name__},
    )
