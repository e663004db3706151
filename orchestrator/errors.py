"""The orchestrator's refusals, raised by services and the agent runtime alike.

Each error names the kind of refusal (`status`, `code`) and what is wrong (`message`,
`details`); `api/errors.py` is the one place an error becomes an HTTP response with the
API's error body. Nothing here knows about requests or responses, so every layer may raise
them.

    ApiError                  400 bad_request (the base; any status a refusal needs)
    ├── Unauthorized          401 unauthorized
    ├── Forbidden             403 forbidden
    ├── NotFound              404 not_found
    ├── Conflict              409 conflict
    ├── PreconditionFailed    412 precondition_failed
    ├── Invalid               422 invalid
    └── TooManyRequests       429 rate_limited
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refusal the API reports to its caller: `status` is the kind (an HTTP status code),
    `code` the machine-readable reason, `headers` what the answer must carry (`Retry-After`)."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
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
