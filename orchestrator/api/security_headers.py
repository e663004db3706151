"""Security headers on every response, and who may read the API docs and the metrics.

Every answer says: do not sniff a type (`nosniff`), never frame this (`frame-ancestors 'none'`,
`X-Frame-Options: DENY`), send no referrer, and run nothing (`default-src 'none'`): the API serves
JSON, never a page. The API docs (`/docs`, `/redoc`) are pages: their policy allows the Swagger UI
and ReDoc assets FastAPI loads from jsDelivr, and their own inline script by its hash (read from
the page as it leaves, so it holds whatever FastAPI renders), nothing else.

`RPA_API_DOCS` decides who reads the docs and the OpenAPI document (`public`, `authenticated`: a
validly signed access token, `off`: 404); `RPA_METRICS_TOKEN`, when set, is the bearer token
`/metrics` requires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import jwt
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.deps import started
from orchestrator.api.errors import send_error
from orchestrator.errors import ApiError
from orchestrator.security.tokens import TokenError, decode_access_token

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'none'; script-src {_CDN} {{scripts}}; style-src {_CDN} 'unsafe-inline'; "
    f"img-src 'self' data: https://fastapi.tiangolo.com; font-src {_CDN} https://fonts.gstatic.com; "
    f"connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""The docs' policy; `{scripts}`: the hashes of the page's inline scripts."""
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
DOC_PAGES = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
DOC_PATHS = DOC_PAGES | {"/openapi.json"}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


class AccessGateMiddleware:
    """Pure ASGI middleware, inside the request context (its refusals carry a request id): the
    docs and metrics gates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = _refusal(scope, scope["path"]) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await _answer(scope, send, *refusal)


class SecurityHeadersMiddleware:
    """Pure ASGI middleware, outermost: the headers above on every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in DOC_PAGES:
            await self._page(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"server"]
                names = {name for name, _ in headers}
                headers += [h for h in COMMON if h[0] not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", API_POLICY.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A docs page, held until its end (a few KiB) so that its inline scripts can be hashed."""
        start: Message | None = None
        body: list[bytes] = []

        async def held(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False) or start is None:
                return
            page = b"".join(body)
            hashes = " ".join(
                f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                for s in _INLINE_SCRIPT.findall(page)
            )
            headers = [h for h in start.get("headers", []) if h[0] not in (b"server", b"content-length")]
            headers += [
                *COMMON,
                (b"content-security-policy", DOCS_POLICY.format(scripts=hashes).encode()),
                (b"content-length", str(len(page)).encode()),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, held)


def _refusal(scope: Scope, path: str) -> tuple[int, str, str] | None:
    """(status, code, message) when the docs or the metrics are closed to this caller."""
    settings = scope["app"].state.settings
    if path in DOC_PATHS:
        access = settings.api_docs
        if access == "off":
            return 404, "not_found", "Not Found"
        if access == "authenticated" and not _signed_in(scope):
            return 401, "unauthorized", "the API docs need an access token (Authorization: Bearer …)"
    elif path == "/metrics" and settings.metrics_token is not None:
        expected = settings.metrics_token.get_secret_value().encode()
        if not hmac.compare_digest(_bearer(scope).encode(), expected):
            return 401, "unauthorized", "/metrics needs its token (Authorization: Bearer …)"
    return None


def _bearer(scope: Scope) -> str:
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _signed_in(scope: Scope) -> bool:
    token = _bearer(scope)
    if not token:
        return False
    try:
        decode_access_token(started(scope["app"], "signing_key"), token)
    except (TokenError, jwt.PyJWTError):
        return False
    return True


async def _answer(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    await send_error(scope, send, ApiError(message, status=status, code=code, headers=headers))
