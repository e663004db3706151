"""The errors of the API client.

ApiError            a request the orchestrator refused, or could not be made
    .status         the HTTP status (0 when no answer came: unreachable, no session, no httpx)
    .code           the API's error code (`not_found`, `unauthorized`, ...) or the client's own
                    (`unreachable`, `no_session`, `mfa_required`, `missing_dependency`)
    .message        a sentence for the user
    .details        the API's `details` (e.g. `{"problems": [...]}` of a refused publish), or None
└── StaleRevision   412 `precondition_failed`: the workflow changed since it was read (a save
                    with an old revision); `.current_etag` is the workflow's current one
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refused request, in the API's own words (`{"error": {"code", "message", "details"}}`)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @property
    def problems(self) -> list[dict[str, Any]]:
        """The flow problems the API listed with the refusal (a refused publish), else []."""
        found = self.details.get("problems") if isinstance(self.details, dict) else None
        return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []


class StaleRevision(ApiError):
    """A write with an old revision (ETag): someone saved or published since it was read."""

    @property
    def current_etag(self) -> str | None:
        """The workflow's current ETag, to read it again."""
        etag = self.details.get("etag") if isinstance(self.details, dict) else None
        return str(etag) if etag else None
