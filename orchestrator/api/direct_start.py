"""`POST /api/v1/executions` without FastAPI's request machinery, when nothing about it is unusual.

A start is the request a busy orchestrator answers most often (every trigger of a client that
starts executions one by one). Through FastAPI it walks the route table, the exception and
exit-stack middleware, the dependency solver and a request object per layer before the route's
own work begins. This ASGI middleware, innermost of the app's own (inside the request id, metrics
and rate limit), answers a plain start itself: a JSON object that validates as `ExecutionCreate`,
from a caller with the start permission. It then does what the route does (`prepare_start`, then
`store_start`), so the answer, the stored execution and the audit entry are the same.

Anything else goes on to FastAPI with the body replayed, unread by anyone else: a start with an
`Idempotency-Key` (the route stores and looks up keys), a body that is not JSON or does not
validate, a refused caller, an unknown workflow, inputs that do not match. The route then answers
as it always does, with the one error format, so this path has no refusals of its own. What was
done before the route took over only read (the caller's session and the pinned version, both
cached). Once a start is handed to the writer it is not given to the route again: an error from
there is answered here, as the app's handler answers it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.errors import api_error_response
from orchestrator.api.routes import executions
from orchestrator.errors import ApiError
from orchestrator.schemas.executions import ExecutionCreate

_JSON = (b"application/json", b"application/json; charset=utf-8")
_MAX_BODY = 1 << 20
"""A larger start goes the route's way (the inputs of a start are small)."""


class DirectStart:
    """Answers a plain start on `route`'s path; passes everything else on untouched (everything,
    without a route)."""

    def __init__(self, app: ASGIApp, route: APIRoute | None) -> None:
        self.app = app
        self.route = route
        """The start route this path stands for: its path, and the scope's `route` once answered
        here (the metrics label requests by it)."""
        self.path = route.path if route is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST" or not _plain(scope):
            await self.app(scope, receive, send)
            return
        body, more = await _read(receive)
        if more is not None:  # too large for this path: the route reads the rest
            await self.app(scope, _replay(body, receive, more), send)
            return
        request = Request(scope)
        try:
            if not body:
                raise _Unusual
            start = ExecutionCreate.model_validate_json(body)
            new = await executions.prepare_start(start, await executions.STARTER(request), request)
        except (_Unusual, ValidationError, ApiError):
            await self.app(scope, _replay(body, receive, None), send)
            return
        scope["route"] = self.route
        try:
            response: Response = await executions.store_start(request, new)
        except ApiError as error:
            response = api_error_response(request, error)
        await response(scope, receive, send)


class _Unusual(Exception):
    """Not a start this path answers."""


def _plain(scope: Scope) -> bool:
    """A JSON body (or none said), no transfer encoding to speak of, no `Idempotency-Key` (the
    route keeps the keys)."""
    content_type = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.lower()
        elif name in (b"transfer-encoding", b"idempotency-key"):
            return False
    return content_type is None or content_type in _JSON


async def _read(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, or the part read so far and the message after which it grew too large."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None
        if size > _MAX_BODY:
            return b"".join(chunks[:-1]), message


def _replay(body: bytes, receive: Receive, pending: Message | None) -> Receive:
    """`receive` as if nothing had been read: the body read so far first (with the message it
    stopped at), then whatever `receive` gives."""
    queued: list[Message] = []
    if pending is None:
        queued.append({"type": "http.request", "body": body, "more_body": False})
    else:
        if body:
            queued.append({"type": "http.request", "body": body, "more_body": True})
        queued.append(pending)

    async def replayed() -> Message:
        if queued:
            return queued.pop(0)
        return await receive()

    return replayed


def route_of(app: Any, path: str) -> APIRoute | None:
    """The app's `POST` route at `path`."""
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path == path and "POST" in (route.methods or ()):
            return route
    return None
