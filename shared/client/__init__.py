"""The typed HTTP client of the orchestrator's API, shared by the `rpa` command, the studio and
the tray.

It speaks HTTP through httpx and nothing else: no command-line or UI code lives here (an
import-linter contract holds it). A refused request is an `ApiError` carrying the API's own
`{"error": {"code", "message"}}`; a login is kept as a `Session` (URL and refresh token, never a
password) in a file only its owner can read.
"""

from shared.client._client import API, ApiClient
from shared.client._exceptions import ApiError
from shared.client._session import Session, load_session, save_session, session_file

__all__ = ["API", "ApiClient", "ApiError", "Session", "load_session", "save_session", "session_file"]
