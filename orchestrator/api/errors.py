"""One error body everywhere: `{"error": {"code", "message", "details", "request_id"}}`.

Services raise `orchestrator.errors.ApiError` (or a subclass); it, FastAPI's validation errors,
HTTP errors and any unexpected exception are turned into the same shape here, at one boundary,
and so is the refusal of an ASGI middleware (`send_error`). A 500 never
carries a traceback or an exception message.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from orchestrator.errors import ApiError

log = logging.getLogger("rpa.orchestrator")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Bad request"),
        (401, "Not authenticated"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (412, "Precondition failed"),
        (413, "Request body larger than the route accepts"),
        (422, "Invalid input"),
        (429, "Too many requests"),
    )
}
"""Documented on every route, so the OpenAPI schema describes the error body."""


def error_body(code: str, message: str, details: Any, request_id: str | None) -> dict[str, Any]:
    """The API's one error body."""
    return {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}


def error_response(
    request: Request, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(error_body(code, message, details, request_id), status_code=status, headers=headers)


def api_error_response(request: Request, exc: ApiError) -> JSONResponse:
    """The answer to `exc`."""
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


async def send_error(scope: Scope, send: Send, exc: ApiError) -> None:
    """Answer `exc` from a pure ASGI middleware, which has no `Request` to hand to a handler."""
    response = JSONResponse(
        error_body(exc.code, exc.message, exc.details, scope.get("state", {}).get("request_id")),
        status_code=exc.status,
        headers=exc.headers,
    )
    await response(scope, _no_receive, send)


async def _no_receive() -> Any:  # a response never reads the request
    raise RuntimeError("an error response does not read the request")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        head, rest = parts[0], parts[1:]
        return f"{head}:" + ".".join(rest) if rest else head
    return ".".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that produce the error body."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return api_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"location": _location(tuple(e.get("loc", ()))), "message": e.get("msg", "")} for e in exc.errors()]
        first = details[0] if details else {"location": "", "message": "invalid request"}
        more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
        message = f"{first['location']}: {first['message']}{more}"
        return error_response(request, 422, "invalid", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return error_response(
            request,
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal", "an internal error occurred; the request id identifies it")
