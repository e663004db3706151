"""Request body limits: refused from `Content-Length`, or while streaming, before any parsing.

Each route has a limit (`ROUTE_LIMITS`, from the settings: a flow document, a start, a batch of
starts, a credential, a bundle import, an artifact upload; `max_body_bytes` for the rest). A
caller that is not authenticated (no validly signed access token; on the agent upload route, no
agent key) gets `max_anonymous_body_bytes` whatever the route: a login or an enrolment is small,
and nobody else is answered anything but 401, so nobody unknown makes the server hold more. A
declared size over the limit is answered 413 before a byte is read; a chunked body is counted as
it arrives and refused at the first chunk past it, so the server never holds more than the limit
of one request.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import jwt
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.deps import started
from orchestrator.api.errors import error_response, send_error
from orchestrator.errors import ApiError
from orchestrator.security.tokens import TokenError, decode_access_token
from shared.protocol import AGENT_KEY_PREFIX

if TYPE_CHECKING:
    from orchestrator.settings import Settings

ROUTE_LIMITS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), setting)
    for method, pattern, setting in (
        ("POST", r"/api/v1/executions", "max_start_body_bytes"),
        ("POST", r"/api/v1/executions/batch", "max_batch_start_body_bytes"),
        ("POST", r"/api/v1/workflows", "max_flow_body_bytes"),
        ("PATCH", r"/api/v1/workflows/[^/]+", "max_flow_body_bytes"),
        ("POST", r"/api/v1/ai/flows", "max_flow_body_bytes"),
        ("POST", r"/api/v1/workflows/import", "max_import_body_bytes"),
        ("POST", r"/api/v1/workflows/[^/]+/assets", "max_asset_upload_body_bytes"),
        ("POST", r"/api/v1/credentials", "max_credential_body_bytes"),
        ("PATCH", r"/api/v1/credentials/[^/]+", "max_credential_body_bytes"),
        ("POST", r"/api/v1/credentials/[^/]+/rotate", "max_credential_body_bytes"),
        ("PUT", r"/api/v1/agents/me/artifacts/[^/]+", "max_artifact_bytes"),
        ("POST", r"/api/v1/hooks/[^/]+", "max_webhook_body_bytes"),
    )
)
"""(method, full path, the setting that limits its body); any other request: `max_body_bytes`."""

_AGENT_ROUTES = frozenset({"max_artifact_bytes"})
"""Limits of routes whose caller authenticates with an agent key rather than an access token."""

_TOKEN_IN_PATH = frozenset({"max_webhook_body_bytes"})
"""Limits of routes whose credential is a token in the path (a webhook's URL), checked by the
route before it reads the body: callers of services (GitHub, Stripe) send no access token."""


class BodyTooLarge(HTTPException):
    """A body over its route's limit. An `HTTPException`, so that FastAPI's body reading passes it
    on as it is (it turns any other error into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {limit} bytes this route accepts")
        self.limit = limit


def limit_setting(method: str, path: str) -> str:
    """The name of the setting that limits the body of `method path`."""
    for route_method, pattern, name in ROUTE_LIMITS:
        if method == route_method and pattern.fullmatch(path):
            return name
    return "max_body_bytes"


def install(app: FastAPI) -> None:
    """Answer a `BodyTooLarge` raised under FastAPI (a route reading its body) in the one format."""

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(
            request, 413, "too_large", str(exc.detail), {"limit": exc.limit}, headers={"Connection": "close"}
        )


class BodyLimitMiddleware:
    """Pure ASGI middleware: 413 in the one error format for a body over its limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        if declared is not None and declared.isdigit() and int(declared) <= _anonymous_limit(scope):
            # Within what anyone may send: no token to check (most requests, every start), and a
            # declared length is what the server reads (h11 and httptools refuse more).
            await self._counted(scope, receive, send, int(declared))
            return
        limit = _limit(scope, headers)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, send, limit)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app on a body refused at its first chunk past `limit`."""
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as error:  # read by a middleware (the direct start), outside FastAPI's handlers
            if started:
                raise
            await _refuse(scope, send, error.limit)


def _anonymous_limit(scope: Scope) -> int:
    limit: int = scope["app"].state.settings.max_anonymous_body_bytes
    return limit


def _limit(scope: Scope, headers: dict[bytes, bytes]) -> int:
    """The most this request's body may hold: its route's limit, or the anonymous one for a
    caller without a credential."""
    settings: Settings = scope["app"].state.settings
    setting = limit_setting(scope["method"], scope["path"])
    limit: int = getattr(settings, setting)
    if setting in _TOKEN_IN_PATH:
        return limit
    if limit > settings.max_anonymous_body_bytes and not _authenticated(scope, headers, setting):
        limit = settings.max_anonymous_body_bytes
    return limit


def _authenticated(scope: Scope, headers: dict[bytes, bytes], setting: str) -> bool:
    """Whether the caller shows a credential worth reading a body for: a validly signed access
    token (its session is checked by the route), or on an agent route an agent key (checked by
    the route before it reads a byte of the body)."""
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    if setting in _AGENT_ROUTES:
        return token.startswith(AGENT_KEY_PREFIX)
    try:
        decode_access_token(started(scope["app"], "signing_key"), token)
    except (TokenError, jwt.PyJWTError):
        return False
    return True


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    # Connection: close, so the rest of a body nobody reads is not waited for.
    await send_error(
        scope,
        send,
        ApiError(
            f"the request body is larger than the {limit} bytes this route accepts",
            status=413,
            code="too_large",
            details={"limit": limit},
            headers={"Connection": "close"},
        ),
    )
