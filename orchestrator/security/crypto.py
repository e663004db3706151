"""Envelope encryption for the vault: AES-256-GCM under per-organisation data keys, which are
themselves wrapped (AES-256-GCM) by a master key.

Key hierarchy::

    master key (32 bytes; RPA_MASTER_KEY or the data dir's master.key)
      └─ wraps, per organisation, a data key (32 random bytes, versioned; AAD = org id + version)
           └─ encrypts each credential's value (AAD = org id + credential id)

A master key is named by a short fingerprint (`MasterKey.key_id`), stored next to each wrapped
data key, so a server that knows several master keys (a `KeyRing`: the current one plus the
previous one while a rotation rolls out) picks the right one without trial decryption.

Nothing here logs, prints or formats key material; `repr` of a key shows its id only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_FILE = "master.key"
PREVIOUS_KEY_FILE = "master.key.previous"
NEXT_KEY_FILE = "master.key.next"
"""Written first by a rotation, so an interrupted rotation never loses the key it started to use."""


class CryptoError(Exception):
    """A key is malformed or unknown, or a ciphertext does not authenticate (never says more)."""


class UnknownMasterKey(CryptoError):
    """A data key is wrapped by a master key this process does not have."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"the data key is wrapped by master key {key_id}, which is not configured here")
        self.key_id = key_id


@dataclass(frozen=True)
class MasterKey:
    """A 32-byte key-encryption key."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise CryptoError(f"a master key must be {KEY_BYTES} bytes")

    @property
    def key_id(self) -> str:
        """A 16-hex-digit fingerprint (domain-separated SHA-256; reveals nothing usable about the key)."""
        return hashlib.sha256(b"rpa-vault/master-key-id\x00" + self.secret).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """Parse the base64 form (what the environment variable and key files hold)."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("a master key must be base64 (of 32 bytes)") from None
        return cls(raw)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    def to_text(self) -> str:
        return base64.b64encode(self.secret).decode()

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id})"


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM with a fresh random 96-bit nonce: (nonce, ciphertext with tag)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        # Wrong key, wrong AAD (a row moved to another org or id) or tampered bytes: all look alike.
        raise CryptoError("the ciphertext does not authenticate") from None


def data_key_aad(org_id: uuid.UUID, version: int) -> bytes:
    return f"rpa-vault/data-key/v1|{org_id}|{version}".encode()


def credential_aad(org_id: uuid.UUID, credential_id: uuid.UUID) -> bytes:
    return f"rpa-vault/credential/v1|{org_id}|{credential_id}".encode()


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


class KeyRing:
    """The master keys a process knows: `current` wraps new data keys, any of them unwraps."""

    def __init__(self, current: MasterKey, others: Iterable[MasterKey] = ()) -> None:
        self.current = current
        self._keys = {current.key_id: current}
        for key in others:
            self._keys.setdefault(key.key_id, key)

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def masters(self) -> list[MasterKey]:
        """Every master key of the ring, the current one first."""
        return list(self._keys.values())

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys

    def with_key(self, key: MasterKey, *, current: bool = False) -> KeyRing:
        """A ring that also knows `key` (as the current key when `current`)."""
        if current:
            return KeyRing(key, self._keys.values())
        return KeyRing(self.current, [*self._keys.values(), key])

    def wrap(self, data_key: bytes, aad: bytes, *, using: MasterKey | None = None) -> tuple[bytes, str]:
        """(nonce + ciphertext, id of the wrapping master key)."""
        master = using or self.current
        nonce, sealed = encrypt(master.secret, data_key, aad)
        return nonce + sealed, master.key_id

    def unwrap(self, wrapped: bytes, key_id: str, aad: bytes) -> bytes:
        master = self._keys.get(key_id)
        if master is None:
            raise UnknownMasterKey(key_id)
        return decrypt(master.secret, wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current.key_id}, known={self.key_ids})"


def read_key_file(path: Path) -> MasterKey | None:
    """The key in `path`, or None when the file does not exist. A file others may read is refused."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None
    if mode & 0o077:
        raise PermissionError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    return MasterKey.from_text(path.read_text(encoding="utf-8"))


def write_key_file(path: Path, key: MasterKey) -> None:
    """Create `path` with mode 0600 (never overwrites: a key file is replaced by rename only)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key.to_text())
        handle.flush()
        os.fsync(handle.fileno())


def replace_key_file(path: Path, key: MasterKey) -> None:
    """Write `path` atomically (a 0600 temporary file renamed over it): it never goes missing."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    write_key_file(temporary, key)
    os.replace(temporary, path)


def load_keyring(
    *, data_dir: Path, env_key: str | None, env_previous: str | None, started_with: str | None = None
) -> KeyRing:
    """The master keys this process may use.

    With a key in the environment (`RPA_MASTER_KEY`), the ring is that key plus
    `RPA_MASTER_KEY_PREVIOUS`. Otherwise the data dir's files are read on every call, so a running
    server follows `rpa vault rotate-master-key` without a restart: `master.key` is current, and
    `master.key.next` (during a rotation) and `master.key.previous` (after one) also unwrap.

    Args:
        data_dir: Where the key files live.
        env_key: `RPA_MASTER_KEY`, when set.
        env_previous: `RPA_MASTER_KEY_PREVIOUS`, when set.
        started_with: The key the process read at start-up; kept as a fallback for unwrapping.

    Raises:
        CryptoError: No master key at all, or a malformed one.
    """
    if env_key:
        others = [MasterKey.from_text(env_previous)] if env_previous else []
        return KeyRing(MasterKey.from_text(env_key), others)
    current = read_key_file(data_dir / MASTER_KEY_FILE)
    others = [
        key
        for key in (read_key_file(data_dir / NEXT_KEY_FILE), read_key_file(data_dir / PREVIOUS_KEY_FILE))
        if key is not None
    ]
    if env_previous:
        others.append(MasterKey.from_text(env_previous))
    fallback = MasterKey.from_text(started_with) if started_with else None
    if current is None:
        if fallback is None:
            raise CryptoError(f"no master key: set RPA_MASTER_KEY or create {data_dir / MASTER_KEY_FILE}")
        current, fallback = fallback, None
    if fallback is not None:
        others.append(fallback)
    return KeyRing(current, others)
