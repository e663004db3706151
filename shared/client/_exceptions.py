"""The one error of the API client.

ApiError            a request the orchestrator refused, or could not be made
    .status         the HTTP status (0 when no answer came: unreachable, no session, no httpx)
    .code           the API's error code (`not_found`, `unauthorized`, ...) or the client's own
                    (`unreachable`, `no_session`, `mfa_required`, `missing_dependency`)
    .message        a sentence for the user
"""

from __future__ import annotations


class ApiError(Exception):
    """A refused request, in the API's own words (`{"error": {"code", "message"}}`)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
