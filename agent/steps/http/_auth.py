"""Credentials, by name, turned into what a request carries.

The OAuth 2.0 token is asked for once per execution and token endpoint, kept in the
execution's resources until shortly before it expires, and asked for again after a 401.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from agent.steps.http._errors import map_httpx_errors, safe_url
from agent.steps.http._models import ApiKeyAuth, BasicAuth, BearerAuth, OAuth2ClientCredentials
from shared.errors import StepError
from shared.steps import context

EXPIRY_MARGIN_S = 30.0
"""A token this close to its expiry is renewed before use."""


@dataclass
class Token:
    """An OAuth 2.0 access token and when it stops being used."""

    value: str
    expires_at: float


def _basic(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _token_key(auth: OAuth2ClientCredentials) -> str:
    return f"http:oauth2:{auth.credential}|{auth.token_url}|{auth.scope or ''}|{auth.audience or ''}"


async def _fetch_token(client: Any, auth: OAuth2ClientCredentials, timeout_s: float) -> Token:
    ctx = context()
    client_id = ctx.secret(f"{auth.credential}.client_id")
    client_secret = ctx.secret(f"{auth.credential}.client_secret")
    form = {"grant_type": "client_credentials"}
    headers = {"Accept": "application/json"}
    if auth.client_auth == "basic":
        headers["Authorization"] = _basic(client_id, client_secret)
    else:
        form.update(client_id=client_id, client_secret=client_secret)
    if auth.scope:
        form["scope"] = auth.scope
    if auth.audience:
        form["audience"] = auth.audience
    with map_httpx_errors("POST", auth.token_url):
        response = await client.post(auth.token_url, data=form, headers=headers, timeout=timeout_s)
    where = safe_url(auth.token_url)
    if response.status_code != 200:
        raise StepError(
            f"the token endpoint {where} refused credential '{auth.credential}' ({response.status_code})",
            kind="auth",
            retryable=response.status_code >= 500,
            details={"status": response.status_code, "url": where},
        )
    try:
        body = response.json()
        value = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError):
        raise StepError(f"the token endpoint {where} gave no access_token", kind="auth", retryable=False) from None
    return Token(value, time.monotonic() + lifetime - EXPIRY_MARGIN_S)


async def oauth2_token(client: Any, auth: OAuth2ClientCredentials, timeout_s: float, *, renew: bool = False) -> str:
    """The execution's token for `auth`, fetched when missing, expiring, or `renew`."""
    resources = context().resources
    key = _token_key(auth)
    token: Token | None = resources.get(key)
    if token is not None and not renew and token.expires_at > time.monotonic():
        return token.value
    resources.pop(key)
    token = await _fetch_token(client, auth, timeout_s)
    resources.put(key, token)
    return token.value


async def apply_auth(
    client: Any, auth: Any, headers: dict[str, str], query: dict[str, Any], timeout_s: float, *, renew: bool = False
) -> None:
    """Add the credential of `auth` to `headers` or `query` (in place)."""
    ctx = context()
    if isinstance(auth, BasicAuth):
        headers["Authorization"] = _basic(ctx.secret(f"{auth.credential}.username"), ctx.secret(auth.credential))
    elif isinstance(auth, BearerAuth):
        headers["Authorization"] = f"Bearer {ctx.secret(auth.credential)}"
    elif isinstance(auth, ApiKeyAuth):
        value = ctx.secret(auth.credential)
        if auth.header is not None:
            headers[auth.header] = value
        else:
            query[str(auth.query)] = value
    elif isinstance(auth, OAuth2ClientCredentials):
        headers["Authorization"] = f"Bearer {await oauth2_token(client, auth, timeout_s, renew=renew)}"
