"""Where a path lives: a local path or an fsspec URL, resolved to a file system for one execution.

A step names a path (`/data/in.csv`, `s3://bucket/key`, `ftp://host:2121/dir/f`) and, for
remote storage, a credential by NAME. `open_storage` parses the URL, reads the credential's
fields from the vault through `context().secret(...)`, builds the fsspec file system once and
keeps it in `context().resources` for the rest of the execution (closed by the engine when the
execution ends). fsspec's own instance cache is bypassed so credentials never outlive the
execution in a process-wide cache.

Every URL shown to people (logs, errors, outputs) goes through `Location.display`, which carries
no userinfo; a password inside a URL is refused outright: credentials come from the vault.
"""

from __future__ import annotations

import ntpath
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.errors import MissingDependency, StepError
from shared.steps import context

# scheme -> (canonical protocol, Python package, human name)
_PROTOCOLS: dict[str, tuple[str, str, str]] = {
    "file": ("file", "fsspec", "local files"),
    "s3": ("s3", "s3fs", "Amazon S3 and S3-compatible storage"),
    "ftp": ("ftp", "fsspec", "FTP"),
    "sftp": ("sftp", "sshfs", "SFTP"),
    "gs": ("gs", "gcsfs", "Google Cloud Storage"),
    "gcs": ("gs", "gcsfs", "Google Cloud Storage"),
    "az": ("az", "adlfs", "Azure Blob Storage"),
    "abfs": ("az", "adlfs", "Azure Blob Storage"),
}
SUPPORTED_SCHEMES = tuple(sorted(_PROTOCOLS))
_BUCKET_PROTOCOLS = ("s3", "gs", "az")
_DEFAULT_PORTS = {"ftp": 21, "sftp": 22}


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed path: which file system, where, and the path inside it (fsspec form)."""

    protocol: str
    path: str
    host: str = ""
    port: int | None = None
    username: str | None = None

    def display(self, path: str | None = None) -> str:
        """The URL of `path` (default: this location) as shown to people: never any userinfo."""
        inner = self.path if path is None else path
        if self.protocol == "file":
            return inner
        if self.protocol in _BUCKET_PROTOCOLS:
            return f"{self.protocol}://{inner.lstrip('/')}"
        port = f":{self.port}" if self.port and self.port != _DEFAULT_PORTS.get(self.protocol) else ""
        return f"{self.protocol}://{self.host}{port}/{inner.lstrip('/')}"

    def with_path(self, path: str) -> Location:
        """The same file system, another path."""
        return Location(self.protocol, path, self.host, self.port, self.username)

    @property
    def fs_key(self) -> str:
        """What makes two locations share one file system (bucket-style stores share per account)."""
        if self.protocol in ("file", *_BUCKET_PROTOCOLS):
            return self.protocol
        return f"{self.protocol}://{self.username or ''}@{self.host}:{self.port or ''}"


def parse_location(text: str) -> Location:
    """Parse a local path or a storage URL.

    Raises:
        ValueError: an empty path, an unknown scheme (the message lists the supported ones), a
            password inside the URL, or a URL without a host or bucket.
    """
    text = text.strip()
    if not text:
        raise ValueError("the path is empty")
    if "://" not in text or ntpath.splitdrive(text)[0]:
        return Location("file", _local_path(text))
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _PROTOCOLS:
        raise ValueError(f"'{scheme}://' is not a supported storage; use one of: {', '.join(SUPPORTED_SCHEMES)}")
    protocol = _PROTOCOLS[scheme][0]
    if parts.password is not None:
        raise ValueError(
            "a password inside a URL is refused (it would show in logs): put it in a credential of the vault "
            "and pass the credential's name in 'credential'"
        )
    if protocol == "file":
        return Location("file", _local_path(parts.path))
    if not parts.hostname:
        raise ValueError(f"the URL {scheme}://… names no {'bucket' if protocol in _BUCKET_PROTOCOLS else 'host'}")
    if protocol in _BUCKET_PROTOCOLS:
        return Location(protocol, f"{parts.netloc}{parts.path}".rstrip("/") or parts.netloc)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"the port of {scheme}://{parts.hostname} is not a number") from None
    return Location(protocol, parts.path or "/", parts.hostname, port or _DEFAULT_PORTS[protocol], parts.username)


def _local_path(text: str) -> str:
    return (
        os.path.abspath(os.path.expanduser(text)).replace("\\", "/")
        if os.sep == "\\"
        else os.path.abspath(os.path.expanduser(text))
    )


def check_path(value: str) -> str:
    """Params validator: the path parses (runs in `rpa validate` for literal values)."""
    parse_location(value)
    return value


@dataclass
class Storage:
    """An open file system of one execution and what is needed to speak of it safely."""

    fs: Any
    location: Location
    secrets: tuple[str, ...] = ()
    lock: threading.RLock = field(default_factory=threading.RLock)
    """Held while a step uses the file system: an FTP connection carries one command at a time."""

    def scrub(self, text: str) -> str:
        """`text` without any credential value this file system was opened with."""
        for value in self.secrets:
            if value:
                text = text.replace(value, "***")
        return text


Builder = Callable[[Location, "dict[str, str]"], Any]


def _fields(credential: str | None, names: tuple[str, ...]) -> dict[str, str]:
    """The credential's fields that are set (each one registered with the masker by the vault)."""
    if not credential or not names:  # local files take no credential: one given for the other end
        return {}
    ctx = context()
    found = {name: value for name in names if (value := ctx.secrets(f"{credential}.{name}")) is not None}
    if not found:
        # Raises the usual 'no credential named …' error.
        ctx.secret(credential)
    return found


def _import(module: str, protocol: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        name = _PROTOCOLS[protocol][2] if protocol in _PROTOCOLS else protocol
        raise MissingDependency(f"{module} (for {name})", extra="storage") from None


def _build_local(location: Location, creds: dict[str, str]) -> Any:
    fsspec = _import("fsspec", "file")
    return fsspec.filesystem("file", skip_instance_cache=True)


def _build_s3(location: Location, creds: dict[str, str]) -> Any:
    s3fs = _import("s3fs", "s3")
    client_kwargs: dict[str, Any] = {}
    # s3fs would send us-east-1 as a bucket's LocationConstraint, which S3 refuses: it is the
    # default region, so it is left unsaid.
    if creds.get("region") and creds["region"] != "us-east-1":
        client_kwargs["region_name"] = creds["region"]
    return s3fs.S3FileSystem(
        key=creds.get("access_key_id"),
        secret=creds.get("secret_access_key"),
        token=creds.get("session_token"),
        endpoint_url=creds.get("endpoint_url"),
        client_kwargs=client_kwargs,
        skip_instance_cache=True,
        # One part of a multipart upload at a time in memory: 8 MiB (S3's minimum is 5 MiB).
        default_block_size=8 * 2**20,
    )


def _build_ftp(location: Location, creds: dict[str, str]) -> Any:
    ftp = _import("fsspec.implementations.ftp", "ftp")
    return ftp.FTPFileSystem(
        host=location.host,
        port=location.port or 21,
        username=creds.get("username", location.username),
        password=creds.get("password"),
        timeout=float(creds.get("timeout_s", "30")),
        tls=creds.get("tls", "").lower() in ("1", "true", "yes"),
        skip_instance_cache=True,
        block_size=2**20,
    )


def _build_sftp(location: Location, creds: dict[str, str]) -> Any:
    sshfs = _import("sshfs", "sftp")
    kwargs: dict[str, Any] = {"port": location.port or 22, "skip_instance_cache": True}
    username = creds.get("username", location.username)
    if username:
        kwargs["username"] = username
    if "password" in creds:
        kwargs["password"] = creds["password"]
    if "private_key" in creds:
        asyncssh = _import("asyncssh", "sftp")
        key = asyncssh.import_private_key(creds["private_key"], creds.get("passphrase"))
        kwargs["client_keys"] = [key]
    # sshfs turns host key checking off unless told otherwise: the server's key is checked against
    # the credential's known_hosts lines, or else the agent user's ~/.ssh/known_hosts.
    asyncssh = _import("asyncssh", "sftp")
    kwargs["known_hosts"] = asyncssh.import_known_hosts(creds["known_hosts"]) if "known_hosts" in creds else ()
    return sshfs.SSHFileSystem(location.host, **kwargs)


def _build_gcs(location: Location, creds: dict[str, str]) -> Any:
    gcsfs = _import("gcsfs", "gs")
    import json

    token: Any = json.loads(creds["token"]) if "token" in creds else None
    return gcsfs.GCSFileSystem(token=token, project=creds.get("project"), skip_instance_cache=True)


def _build_azure(location: Location, creds: dict[str, str]) -> Any:
    adlfs = _import("adlfs", "az")
    return adlfs.AzureBlobFileSystem(
        account_name=creds.get("account_name"),
        account_key=creds.get("account_key"),
        connection_string=creds.get("connection_string"),
        sas_token=creds.get("sas_token"),
        skip_instance_cache=True,
    )


# protocol -> (builder, credential fields it reads). The fields are documented in docs/steps/files.md.
BACKENDS: dict[str, tuple[Builder, tuple[str, ...]]] = {
    "file": (_build_local, ()),
    "s3": (_build_s3, ("access_key_id", "secret_access_key", "session_token", "endpoint_url", "region")),
    "ftp": (_build_ftp, ("username", "password", "tls", "timeout_s")),
    "sftp": (_build_sftp, ("username", "password", "private_key", "passphrase", "known_hosts")),
    "gs": (_build_gcs, ("token", "project")),
    "az": (_build_azure, ("account_name", "account_key", "connection_string", "sas_token")),
}
SECRET_FIELDS = frozenset({"secret_access_key", "session_token", "password", "private_key", "passphrase", "token"})
SECRET_FIELDS |= {"account_key", "connection_string", "sas_token"}


def close_storage(storage: Storage) -> None:
    """Close what a file system holds open (an FTP control connection); safe to call twice."""
    fs = storage.fs
    if storage.location.protocol == "sftp" and fs is not None:
        # sshfs closes its SSH connection only when the file system is garbage-collected; its
        # finalizer does it now instead (a second call at collection finds nothing left open).
        type(fs)._finalize(fs.loop, fs._pool, fs._stack)
        return
    ftp = getattr(fs, "ftp", None)
    if ftp is not None:
        try:
            ftp.quit()
        except Exception:  # the server may have gone already; the socket is closed below either way
            ftp.close()


def open_storage(path: str, credential: str | None = None, *, fresh: bool = False) -> tuple[Storage, str]:
    """The file system of `path` for this execution, and the path inside it.

    Args:
        path: a local path or a storage URL.
        credential: the vault name of the credential to use (None: local files, anonymous
            access, or the environment's default credentials for cloud stores).
        fresh: open a new file system that is not shared (a second FTP connection for a copy
            between two paths of one server).

    Raises:
        StepError: kind `validation` for a path that does not parse; `MissingDependency` when
            the storage's package is not installed; kind `credential` for an unknown credential.
    """
    try:
        location = parse_location(path)
    except ValueError as exc:
        raise StepError(f"bad path: {exc}", kind="validation", retryable=False) from None
    builder, names = BACKENDS[location.protocol]
    ctx = context()
    key = f"files:{location.fs_key}:{credential or ''}"
    storage: Storage | None = None if fresh else ctx.resources.get(key)
    if storage is None:
        creds = _fields(credential, names)
        storage = Storage(None, location, tuple(v for k, v in creds.items() if k in SECRET_FIELDS))
        from agent.steps.files._errors import CONNECTING, map_storage_errors  # _errors imports this module

        with map_storage_errors(CONNECTING, storage):
            storage.fs = builder(location, creds)
        if not fresh:
            ctx.resources.put(key, storage, close=close_storage)
    else:
        storage = Storage(storage.fs, location, storage.secrets, storage.lock)
    # Another step, process or person may have changed the store since the last look.
    storage.fs.invalidate_cache()
    return storage, location.path
