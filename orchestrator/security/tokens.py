"""Access tokens (JWT, HS256) and opaque secrets (refresh tokens, enrolment tokens).

Decoding pins the algorithm: a token with `alg: none` or another algorithm is refused, and so
are a wrong signature, an expired token, a wrong type or missing claims.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "rpa-orchestrator"


class TokenError(Exception):
    """The token is not acceptable; the message says why (never echoing the token)."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    org_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: int


def issue_access_token(
    secret: str, *, user_id: uuid.UUID, org_id: uuid.UUID, session_id: uuid.UUID, ttl_s: int, token_type: str = "access"
) -> tuple[str, int]:
    """(token, expiry as a Unix time)."""
    now = int(time.time())
    expires = now + ttl_s
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "org": str(org_id),
        "sid": str(session_id),
        "typ": token_type,
        "iat": now,
        "nbf": now,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


_VERIFIED: OrderedDict[tuple[str, str, str], AccessClaims] = OrderedDict()
_VERIFIED_KEPT = 4096


def decode_access_token(secret: str, token: str, *, token_type: str = "access") -> AccessClaims:
    """Check signature, algorithm, expiry, issuer and type.

    A token that passed is remembered (the last 4,096), so the next request that carries it costs
    a dictionary lookup and the expiry check instead of a signature check; the signature and
    claims of a given token never change, its expiry is checked every time.

    Raises:
        TokenError: naming what is wrong.
    """
    key = (secret, token, token_type)
    known = _VERIFIED.get(key)
    if known is not None:
        if known.expires_at > time.time():
            _VERIFIED.move_to_end(key)
            return known
        del _VERIFIED[key]
        raise TokenError("the token has expired")
    claims = _verify(secret, token, token_type)
    _VERIFIED[key] = claims
    if len(_VERIFIED) > _VERIFIED_KEPT:
        _VERIFIED.popitem(last=False)
    return claims


def _verify(secret: str, token: str, token_type: str) -> AccessClaims:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "org", "sid", "typ", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.InvalidAlgorithmError:
        raise TokenError("the token's algorithm is not accepted") from None
    except jwt.InvalidSignatureError:
        raise TokenError("the token's signature is invalid") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"the token is invalid: {exc}") from None
    if claims.get("typ") != token_type:
        raise TokenError(f"expected a {token_type} token")
    try:
        return AccessClaims(
            uuid.UUID(claims["sub"]), uuid.UUID(claims["org"]), uuid.UUID(claims["sid"]), int(claims["exp"])
        )
    except (ValueError, TypeError):
        raise TokenError("the token's claims are malformed") from None


def new_opaque_token(prefix: str) -> str:
    """A random bearer secret such as `rt_…` (refresh) or `et_…` (enrolment)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """SHA-256 hex of a high-entropy token (what the database keeps)."""
    return hashlib.sha256(token.encode()).hexdigest()
