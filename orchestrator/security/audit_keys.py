"""The audit log's keys, derived from the vault's master keys and never stored anywhere:

    master key (RPA_MASTER_KEY or the data dir's master.key)
      ├─ HKDF-SHA-256, info "rpa-audit/hmac/v1"       -> the HMAC-SHA-256 key that seals entries
      └─ HKDF-SHA-256, info "rpa-audit/checkpoint/v1" -> the Ed25519 seed that signs checkpoints

Whoever can write the database but does not hold the master key can neither seal an entry nor
sign a checkpoint. An entry names the key that sealed it (`key_id`, a fingerprint), so a server
whose master key was rotated still verifies what the previous key sealed, as long as the ring
knows that key (`RPA_MASTER_KEY_PREVIOUS`, `master.key.previous`). A checkpoint carries its
public key, so anyone can check its signature offline; pin the key (`rpa audit public-key`)
to know it is this server's.

The process's keys are configured once at start-up (`configure`); nothing here logs or formats
key material.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from orchestrator.security.crypto import KeyRing, MasterKey

__all__ = ["AuditKey", "AuditKeyMissing", "AuditKeys", "active", "configure", "public_key_of", "verify_signature"]

_HMAC_INFO = b"rpa-audit/hmac/v1"
_SIGNING_INFO = b"rpa-audit/checkpoint/v1"


class AuditKeyMissing(RuntimeError):
    """An audit entry was to be written or verified before the process configured its keys."""


def _derive(master: MasterKey, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master.secret)


def fingerprint(key: bytes, domain: bytes) -> str:
    return hashlib.sha256(domain + b"\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class AuditKey:
    """One master key's audit keys."""

    mac_key: bytes = field(repr=False)
    signing_seed: bytes = field(repr=False)

    @classmethod
    def of(cls, master: MasterKey) -> AuditKey:
        return cls(_derive(master, _HMAC_INFO), _derive(master, _SIGNING_INFO))

    @functools.cached_property
    def key_id(self) -> str:
        """What entries sealed with this key record (reveals nothing usable about it); every audit
        entry names it, so it is computed once."""
        return fingerprint(self.mac_key, b"rpa-audit/key-id")

    def seal(self, content: bytes) -> str:
        return hmac.new(self.mac_key, content, hashlib.sha256).hexdigest()

    def sign(self, content: bytes) -> str:
        return base64.b64encode(Ed25519PrivateKey.from_private_bytes(self.signing_seed).sign(content)).decode()

    @property
    def public_key(self) -> str:
        """The checkpoint signing key's public half (base64 of the raw 32 bytes)."""
        raw = (
            Ed25519PrivateKey.from_private_bytes(self.signing_seed)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return base64.b64encode(raw).decode()

    def __repr__(self) -> str:
        return f"AuditKey(id={self.key_id})"


class AuditKeys:
    """The audit keys of every master key a process knows: the current one seals, any verifies."""

    def __init__(self, ring: KeyRing) -> None:
        self.current = AuditKey.of(ring.current)
        self._by_id = {self.current.key_id: self.current}
        for master in ring.masters():
            key = AuditKey.of(master)
            self._by_id.setdefault(key.key_id, key)

    def get(self, key_id: str) -> AuditKey | None:
        return self._by_id.get(key_id)

    @property
    def public_keys(self) -> set[str]:
        """The checkpoint public keys of every known key (checkpoints signed before a master key
        rotation stay trusted while the previous key is configured)."""
        return {key.public_key for key in self._by_id.values()}

    def __repr__(self) -> str:
        return f"AuditKeys(current={self.current.key_id}, known={list(self._by_id)})"


_ACTIVE: AuditKeys | None = None


def configure(ring: KeyRing) -> AuditKeys:
    """Make `ring`'s audit keys this process's (at start-up, and by commands that write the log)."""
    global _ACTIVE
    _ACTIVE = AuditKeys(ring)
    return _ACTIVE


def active() -> AuditKeys:
    """The process's audit keys.

    Raises:
        AuditKeyMissing: `configure` was not called; nothing may be written unkeyed.
    """
    if _ACTIVE is None:
        raise AuditKeyMissing("the audit keys are not configured (no master key was loaded)")
    return _ACTIVE


def public_key_of(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def verify_signature(public_key: str, signature: str, content: bytes) -> bool:
    """Whether `signature` (base64) is `public_key`'s (base64 raw Ed25519) over `content`."""
    from cryptography.exceptions import InvalidSignature

    try:
        public_key_of(public_key).verify(base64.b64decode(signature, validate=True), content)
    except (InvalidSignature, ValueError):
        return False
    return True
