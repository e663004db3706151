"""`POST /api/v1/hooks/{token}` without FastAPI's request machinery.

A webhook call is the other request a busy orchestrator answers by the thousand. Through FastAPI
it walks the route table, the exception and exit-stack middleware, the dependency solver and a
request object per layer: about a third of the orchestrator's CPU per call under load
(bench/README.md), more than the call's own work. This ASGI middleware, next to `DirectStart`
(inside the request id, metrics, body limit and rate limit), answers every call on that path
itself with the route's own function (`routes/hooks.answer_call`), so the checks, the stored
event and execution, and the answer are the route's; a refusal is answered in the one error
format, as the app's handler answers it.

What the route's declaration would refuse before its code runs (a token longer than 200
characters or with a `/`, another method) goes on to FastAPI, which answers as it always did.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api.errors import api_error_response
from orchestrator.api.routes import hooks
from orchestrator.errors import ApiError

MAX_TOKEN = 200
"""The route's limit on the token (longer: FastAPI answers its 422)."""


class DirectHook:
    """Answers webhook calls on `route`'s path; passes everything else on untouched."""

    def __init__(self, app: ASGIApp, route: APIRoute | None) -> None:
        self.app = app
        self.route = route
        """The hook route this path stands for: the scope's `route` once answered here (the
        metrics label requests by it)."""
        self.prefix = route.path.removesuffix("{token}") if route is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self._token(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        request = Request(scope, receive)
        try:
            response = await hooks.answer_call(request, token, request.headers.get("idempotency-key"))
        except ApiError as error:
            response = api_error_response(request, error)
        await response(scope, receive, send)

    def _token(self, scope: Scope) -> str | None:
        """The URL's token when this path answers the call, else None."""
        if self.prefix is None or scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        if not path.startswith(self.prefix):
            return None
        token = path[len(self.prefix) :]
        if not 0 < len(token) <= MAX_TOKEN or "/" in token:
            return None
        return token
