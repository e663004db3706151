"""TOTP second factor (RFC 6238 via pyotp), its secret at rest, and recovery codes.

- A secret is stored encrypted with AES-256-GCM under a key derived from the master key
  (HKDF-SHA256, info "totp"); the user's id is the associated data, so a ciphertext copied onto
  another user's row does not decrypt.
- `match_step` returns the time step a code belongs to; the caller keeps the last accepted step
  and passes it as `after`, so a code (or an older one) is never accepted twice.
- Recovery codes are random (60 bits) and stored argon2id-hashed with light parameters: they
  are not guessable like passwords, so the cost of a password hash buys nothing, and a login
  with a recovery code checks up to ten of them.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
import uuid

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ISSUER = "RPA Orchestrator"
STEP_S = 30
WINDOW = 1
"""Steps accepted either side of now (clock skew between the server and the phone)."""
RECOVERY_CODES = 10
_NONCE = 12
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read off paper

_recovery_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class TotpError(Exception):
    """The stored secret cannot be used (wrong master key or a tampered row)."""


def clock() -> float:
    """The current Unix time; a module function so tests can pin it."""
    return time.time()


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The `otpauth://` URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=account, issuer_name=issuer)


def current_step(now: float | None = None) -> int:
    return int((clock() if now is None else now) // STEP_S)


def match_step(secret: str, code: str, *, after: int | None = None, now: float | None = None) -> int | None:
    """The time step `code` belongs to (within the window), or None.

    Steps at or before `after` (the last accepted one) never match: that rejects a replayed code.
    """
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_S)
    step = current_step(now)
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if after is not None and candidate <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def code_at(secret: str, when: float) -> str:
    """The code an authenticator shows at `when` (for tests and tooling)."""
    return pyotp.TOTP(secret, interval=STEP_S).at(when)


def _key(master_key: str) -> bytes:
    raw = base64.b64decode(master_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"totp").derive(raw)


def encrypt_secret(master_key: str, secret: str, user_id: uuid.UUID) -> bytes:
    """nonce ‖ AES-GCM(secret), bound to the user's id."""
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(_key(master_key)).encrypt(nonce, secret.encode(), user_id.bytes)


def decrypt_secret(master_key: str, blob: bytes, user_id: uuid.UUID) -> str:
    try:
        return AESGCM(_key(master_key)).decrypt(blob[:_NONCE], blob[_NONCE:], user_id.bytes).decode()
    except (InvalidTag, ValueError) as exc:
        raise TotpError("the stored TOTP secret cannot be decrypted with this master key") from exc


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes like `k7pq-xw3m-ra9d` (12 characters of a 31-letter alphabet, ~59 bits)."""
    codes = []
    for _ in range(count):
        chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        codes.append(f"{chars[:4]}-{chars[4:8]}-{chars[8:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    """Case, spaces and dashes do not matter when a code is typed."""
    return "".join(c for c in code.lower() if c.isalnum())


def hash_recovery_code(code: str) -> str:
    return _recovery_hasher.hash(normalise_recovery_code(code))


def recovery_code_matches(code_hash: str, code: str) -> bool:
    try:
        return _recovery_hasher.verify(code_hash, normalise_recovery_code(code))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
