"""Where the agent keeps its identity after enrolment.

The identity (orchestrator URL, agent and organisation ids, name, labels) is not secret and goes
to `<agent home>/agent.json`. The agent key goes to the OS keyring (service `rpa-agent`, user =
agent id) or, when the user asks for it with a key file, to that file with mode 0600. A keyring
without a usable backend is an error that says to use a key file; the key is never written in
plain text anywhere else, and no error message contains it.

`agent.json` also records where the key is (`"key_store": "keyring"` or the key file's path), so
`load_identity()` needs no arguments.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.protocol import AGENT_KEY_PREFIX

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

__all__ = [
    "KEYRING_SERVICE",
    "AgentIdentity",
    "KeystoreError",
    "agent_home",
    "check_key_storage",
    "describe_key_store",
    "load_identity",
    "read_identity",
    "replace_key",
    "save_identity",
]

KEYRING_SERVICE = "rpa-agent"
IDENTITY_FILE = "agent.json"
KEYRING = "keyring"


class KeystoreError(Exception):
    """The identity or the key cannot be stored or read; the message says what to do."""


class AgentIdentity(BaseModel):
    """Who the agent is for its orchestrator (nothing secret)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    url: str
    agent_id: str
    org_id: str
    name: str
    labels: list[str] = Field(default_factory=list)


def agent_home(env: Mapping[str, str] | None = None) -> Path:
    """The agent's data folder: `RPA_AGENT_HOME`, else the platform's user data folder.

    Linux: `$XDG_DATA_HOME/rpa-agent` or `~/.local/share/rpa-agent`; macOS:
    `~/Library/Application Support/rpa-agent`; Windows: `%LOCALAPPDATA%\\rpa-agent`.
    """
    env = os.environ if env is None else env
    if env.get("RPA_AGENT_HOME"):
        return Path(env["RPA_AGENT_HOME"]).expanduser()
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "rpa-agent"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "rpa-agent"
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "rpa-agent"


def check_key_storage(key_file: Path | None = None) -> None:
    """Fail early, before enrolling, when the key could not be stored.

    Raises:
        KeystoreError: no usable keyring backend (and no key file), or the key file's folder
            cannot be created.
    """
    if key_file is None:
        _usable_keyring()
    else:
        _make_private_dir(key_file.expanduser().absolute().parent)


def save_identity(identity: AgentIdentity, key: str, *, key_file: Path | None = None, home: Path | None = None) -> Path:
    """Store the identity in `agent.json` and the key in the keyring or in `key_file`.

    The key is stored first, so `agent.json` never points at a key that is not there.

    Args:
        identity: what the orchestrator answered at enrolment.
        key: the agent key.
        key_file: keep the key in this file (mode 0600) instead of the OS keyring.
        home: the agent home; default `agent_home()`.

    Returns:
        The path of `agent.json`.

    Raises:
        KeystoreError: the keyring has no usable backend, or a file cannot be written.
    """
    if not key:
        raise KeystoreError("the agent key is empty")
    home = agent_home() if home is None else home
    _make_private_dir(home)
    if key_file is None:
        backend = _usable_keyring()
        try:
            backend.set_password(KEYRING_SERVICE, identity.agent_id, key)
        except Exception as exc:
            raise KeystoreError(
                f"could not store the agent key in the OS keyring ({type(exc).__name__}); "
                "pass --key-file PATH to keep it in a file with mode 0600"
            ) from None
        key_store = KEYRING
    else:
        key_file = key_file.expanduser().absolute()
        _make_private_dir(key_file.parent)
        _write_private(key_file, key + "\n")
        key_store = str(key_file)
    document = {**identity.model_dump(), "key_store": key_store}
    target = home / IDENTITY_FILE
    _write_private(target, json.dumps(document, indent=2) + "\n")
    return target


def replace_key(key: str, *, key_file: Path | None = None, home: Path | None = None) -> str:
    """Store a new key of the enrolled agent (after `POST /agents/{id}/rotate-key`) where its key is
    kept, or in `key_file` from now on. Returns where it went (no message ever contains the key).

    Raises:
        KeystoreError: the agent is not enrolled, the key is not a key of this agent, or it cannot
            be stored.
    """
    home = agent_home() if home is None else home
    document = _read_document(home)
    if document is None:
        raise KeystoreError(f"no agent identity in {home}; run `rpa agent enroll URL TOKEN` first")
    identity = _identity(document)
    key = key.strip()
    if not key.startswith(AGENT_KEY_PREFIX) or key.count("_") < 3:
        raise KeystoreError(f"that is not an agent key: an agent key starts with '{AGENT_KEY_PREFIX}'")
    try:
        agent_hex = uuid.UUID(identity.agent_id).hex
    except ValueError:
        raise KeystoreError(f"{IDENTITY_FILE} names no valid agent id; enroll again") from None
    if not key.startswith(f"{AGENT_KEY_PREFIX}{agent_hex}_"):
        raise KeystoreError(f"that key belongs to another agent, not to {identity.name} ({identity.agent_id})")
    recorded = str(document.get("key_store", KEYRING))
    target = key_file if key_file is not None else (None if recorded == KEYRING else Path(recorded))
    save_identity(identity, key, key_file=target, home=home)
    return "the OS keyring" if target is None else str(target.expanduser().absolute())


def read_identity(home: Path | None = None) -> AgentIdentity | None:
    """The stored identity without its key, or None when the agent is not enrolled.

    Raises:
        KeystoreError: `agent.json` exists but cannot be read.
    """
    document = _read_document(agent_home() if home is None else home)
    return None if document is None else _identity(document)


def load_identity(*, key_file: Path | None = None, home: Path | None = None) -> tuple[AgentIdentity, str]:
    """The stored identity and its key.

    Args:
        key_file: read the key from this file instead of where `agent.json` says it is.
        home: the agent home; default `agent_home()`.

    Raises:
        KeystoreError: not enrolled, the key is missing, the keyring is unusable, or the key file
            is readable by group or others.
    """
    home = agent_home() if home is None else home
    document = _read_document(home)
    if document is None:
        raise KeystoreError(f"no agent identity in {home}; run `rpa agent enroll URL TOKEN` first")
    identity = _identity(document)
    recorded = str(document.get("key_store", KEYRING))
    store = recorded if key_file is None else str(key_file.expanduser().absolute())
    if store == KEYRING:
        backend = _usable_keyring()
        try:
            key = backend.get_password(KEYRING_SERVICE, identity.agent_id)
        except Exception as exc:
            raise KeystoreError(f"could not read the agent key from the OS keyring ({type(exc).__name__})") from None
        if not key:
            raise KeystoreError(f"the OS keyring holds no key for agent {identity.agent_id}; enroll the agent again")
        return identity, key
    return identity, _read_private(Path(store))


def describe_key_store(home: Path | None = None) -> str:
    """Where the key of the stored identity is: "the OS keyring", a file path, or "nowhere"."""
    document = _read_document(agent_home() if home is None else home)
    if document is None:
        return "nowhere"
    store = str(document.get("key_store", KEYRING))
    return "the OS keyring" if store == KEYRING else store


# -- keyring ---------------------------------------------------------------------------------------


def _usable_keyring() -> KeyringBackend:
    """The active keyring backend, refused when it cannot keep a secret safely."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except ImportError:
        raise KeystoreError(
            "the keyring package is not installed (install the agent extra: "
            "pip install 'rpa-suite[agent]'), or pass --key-file PATH"
        ) from None
    backend = keyring.get_keyring()
    chain = list(backend.backends) if isinstance(backend, chainer.ChainerBackend) else [backend]
    refused = [b for b in chain if isinstance(b, fail.Keyring | null.Keyring) or _is_plaintext(b)]
    if not chain or refused:
        which = ", ".join(type(b).__name__ for b in refused) or "none"
        raise KeystoreError(
            f"no usable OS keyring (backend: {which}); pass --key-file PATH to keep the "
            "agent key in a file readable only by you (mode 0600)"
        )
    return backend


def _is_plaintext(backend: object) -> bool:
    kind = type(backend)
    return "plaintext" in f"{kind.__module__}.{kind.__qualname__}".lower()


# -- files -----------------------------------------------------------------------------------------


def _make_private_dir(path: Path) -> None:
    try:
        if not path.exists():
            path.mkdir(mode=0o700, parents=True)
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise KeystoreError(f"cannot create {path}: {exc.strerror}") from None


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically (a fresh file renamed over the old one)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        temp.unlink()  # left by a process killed mid-write
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise KeystoreError(f"cannot write {path}: {exc.strerror}") from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise KeystoreError(f"cannot write {path}: {exc.strerror}") from None


def _read_private(path: Path) -> str:
    try:
        mode = os.stat(path).st_mode
        if os.name == "posix" and mode & 0o077:
            raise KeystoreError(
                f"key file {path} is accessible by group or others (mode {mode & 0o777:04o}); run `chmod 600 {path}`"
            )
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise KeystoreError(f"key file {path} does not exist; enroll the agent again") from None
    except OSError as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc.strerror}") from None
    if not key:
        raise KeystoreError(f"key file {path} is empty; enroll the agent again")
    return key


def _read_document(home: Path) -> dict[str, Any] | None:
    path = home / IDENTITY_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise KeystoreError(f"{path} is not a JSON object; enroll the agent again")
    return document


def _identity(document: dict[str, Any]) -> AgentIdentity:
    try:
        return AgentIdentity.model_validate(document)
    except ValidationError as exc:
        raise KeystoreError(f"{IDENTITY_FILE} is incomplete ({exc.error_count()} problems); enroll again") from None
