"""Webhook checks (pure: no I/O) and the vault look-up of their keys.

A call is refused before anything is stored when its signature, source address or size is
wrong; the caller is told only "not found" for a wrong token and "unauthorized" for a bad
signature, in the same words whichever part was wrong (a missing header, a malformed one, a
stale timestamp, another key), so it learns nothing about what would pass.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from orchestrator.db.session import Database
from orchestrator.errors import ApiError
from orchestrator.services.vault import reveal
from orchestrator.triggers._kinds import Signature
from shared.expressions import flatten_credentials

_ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}


def sign(signature: Signature, key: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The header value a sender computes (what the tests and the benchmark send)."""
    digest = _ALGORITHMS[signature.algorithm]
    if signature.style == "stripe":
        stamp = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new(key, f"{stamp}.".encode() + body, digest).hexdigest()
        return f"t={stamp},v1={mac}"
    mac = hmac.new(key, body, digest).hexdigest()
    return f"{signature.algorithm}={mac}" if signature.style == "github" else mac


def verify(signature: Signature, key: bytes, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """Whether the call carries a valid signature of `body` under `key`."""
    value = headers.get(signature.header_name.lower(), "").strip()
    if not value:
        return False
    digest = _ALGORITHMS[signature.algorithm]
    if signature.style == "stripe":
        return _stripe(value, key, body, now, signature.tolerance_s, digest)
    if signature.style == "github":
        prefix = f"{signature.algorithm}="
        if not value.startswith(prefix):
            return False
        value = value[len(prefix) :]
    expected = hmac.new(key, body, digest).hexdigest()
    return hmac.compare_digest(expected, value.lower())


def _stripe(value: str, key: bytes, body: bytes, now: float, tolerance_s: int, digest: Any) -> bool:
    parts: dict[str, list[str]] = {}
    for item in value.split(","):
        name, _, given = item.strip().partition("=")
        parts.setdefault(name, []).append(given)
    try:
        stamp = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - stamp) > tolerance_s:
        return False  # a replay of an old call, or a sender's clock far off
    expected = hmac.new(key, f"{stamp}.".encode() + body, digest).hexdigest()
    return any(hmac.compare_digest(expected, given.lower()) for given in parts.get("v1", []))


class VaultKeys:
    """Signature keys read from the vault by credential name (`NAME` or `NAME.field`), kept for
    `ttl_s` so a burst of calls decrypts once. Values are masked in logs by the vault."""

    def __init__(self, db: Database, keyring: Callable[[], Any], ttl_s: float = 30.0) -> None:
        self.db = db
        self.keyring = keyring
        self.ttl_s = ttl_s
        self._kept: dict[tuple[uuid.UUID, str], tuple[float, str]] = {}

    async def get(self, org_id: uuid.UUID, ref: str) -> str | None:
        """The secret, or None when no such credential (or field) exists."""
        now = time.monotonic()
        kept = self._kept.get((org_id, ref))
        if kept is not None and now - kept[0] < self.ttl_s:
            return kept[1]
        value = await self._read(org_id, ref)
        if value is not None:
            self._kept[(org_id, ref)] = (now, value)
        return value

    async def _read(self, org_id: uuid.UUID, ref: str) -> str | None:
        name = ref.split(".", 1)[0]
        try:
            async with self.db.transaction() as session:
                values = await reveal(session, org_id, [name], self.keyring())
        except ApiError:
            return None
        return flatten_credentials(values).get(ref)

    def reader(self, org_id: uuid.UUID) -> Callable[[str], Awaitable[str]]:
        """`SourceContext.secret` for a trigger of `org_id`: raises when the credential is missing."""

        async def secret(ref: str) -> str:
            value = await self.get(org_id, ref)
            if value is None:
                raise LookupError(f"no credential (or field) named '{ref}' in the vault")
            return value

        return secret
