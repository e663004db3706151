"""One error body everywhere: `{"error": {"code", "message", "details", "request_id"}}`.

Services raise `ApiError` (or a subclass); FastAPI's validation errors, HTTP errors and any
unexpected exception are turned into the same shape here, at one boundary. A 500 never
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

log = logging.getLogger("rpa.orchestrator")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An error the API reports to the caller."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        self.headers = headers or {}


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PreconditionFailed(ApiError):
    status = 412
    code = "precondition_failed"


class Invalid(ApiError):
    status = 422
    code = "invalid"


class TooManyRequests(ApiError):
    status = 429
    code = "rate_limited"


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in ((400, "Bad request"), (401, "Not authenticated"), (403, "Not allowed"),
                         (404, "Not found"), (409, "Conflict"), (412, "Precondition failed"),
                         (422, "Invalid input"), (429, "Too many requests"))
}
"""Documented on every route, so the OpenAPI schema describes the error body."""


def error_response(request: Request, status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body = {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}
    return JSONResponse(body, status_code=status, headers=headers)


def api_error_response(request: Request, exc: ApiError) -> JSONResponse:
    """The answer to `exc`."""
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


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
        details = [{"location": _location(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
                   for e in exc.errors()]
        first = details[0] if details else {"location": "", "message": "invalid request"}
        more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
        message = f"{first['location']}: {first['message']}{more}"
        return error_response(request, 422, "invalid", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return error_response(request, exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal", "an internal error occurred; the request id identifies it")
