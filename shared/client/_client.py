"""`ApiClient`: calls to the orchestrator's API with token refresh, and its Server-Sent Events.

A client made by `from_session()` uses the session `rpa login` kept (see `_session.py`);
`RPA_URL` and `RPA_TOKEN` (an access token) override it. httpx is imported when a request is
made, not at import: it comes with the `agent` and `server` extras, and the local commands of
`rpa` must work without them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.client._exceptions import ApiError
from shared.client._session import Session, load_session, save_session, session_file

API = "/api/v1"


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:  # pragma: no cover - every extra that talks to a server brings it
        raise ApiError(0, "missing_dependency", "httpx is not installed: pip install 'rpa-suite[agent]'") from None
    return httpx


class ApiClient:
    """Calls `url`'s API with an access token, refreshing it once when it has expired."""

    def __init__(self, url: str, *, access_token: str = "", refresh_token: str = "", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.timeout = timeout

    @classmethod
    def from_session(cls) -> ApiClient:
        """The client of `rpa login`'s session (or of `RPA_URL` + `RPA_TOKEN`)."""
        if os.environ.get("RPA_URL") and os.environ.get("RPA_TOKEN"):
            return cls(os.environ["RPA_URL"], access_token=os.environ["RPA_TOKEN"])
        session = load_session()
        return cls(session.url, refresh_token=session.refresh_token)

    def save_session(self) -> Path:
        """Keep the URL and refresh token for later commands (mode 0600); returns the file's path."""
        return save_session(Session(self.url, self.refresh_token))

    def ready(self, timeout: float = 2.0) -> bool:
        """Whether the orchestrator answers its readiness probe (`/readyz`); False when unreachable."""
        httpx = _httpx()
        try:
            return bool(httpx.get(f"{self.url}/readyz", timeout=timeout).status_code == 200)
        except httpx.HTTPError:
            return False

    def login(self, email: str, password: str, *, totp_code: str | None = None) -> None:
        """Log in as `email`; the client then holds an access and a refresh token.

        Raises:
            ApiError: the login was refused (code `mfa_required` when a second factor is needed).
        """
        body: dict[str, Any] = {"email": email, "password": password}
        if totp_code:
            body["totp_code"] = totp_code
        tokens = self._call("POST", "/auth/login", json=body, auth=False)
        self._take(tokens)

    def _take(self, tokens: Any) -> None:
        if not isinstance(tokens, dict) or "access_token" not in tokens:
            raise ApiError(0, "mfa_required", "this account needs a second factor: pass --totp")
        self.access_token = str(tokens["access_token"])
        self.refresh_token = str(tokens.get("refresh_token") or self.refresh_token)

    def _refresh(self) -> bool:
        if not self.refresh_token:
            return False
        self._take(self._call("POST", "/auth/refresh", json={"refresh_token": self.refresh_token}, auth=False))
        if not os.environ.get("RPA_TOKEN") and session_file().exists():
            self.save_session()  # refresh tokens rotate
        return True

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of an API call (`path` under /api/v1); raises `ApiError` when refused."""
        if not self.access_token:
            self._refresh()
        try:
            return self._call(method, path, **kwargs)
        except ApiError as error:
            if error.status == 401 and self._refresh():
                return self._call(method, path, **kwargs)
            raise

    def _call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        httpx = _httpx()
        headers = {"Authorization": f"Bearer {self.access_token}"} if auth and self.access_token else {}
        try:
            response = httpx.request(method, f"{self.url}{API}{path}", headers=headers, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach the orchestrator at {self.url} ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json() if response.content else None

    def stream(self, execution_id: str, *, follow: bool, after_seq: int = 0) -> Iterator[tuple[str, Any]]:
        """The execution's journal as (event, data) pairs: `journal` events, then `end`."""
        httpx = _httpx()
        if not self.access_token:
            self._refresh()
        params = {"follow": "true" if follow else "false", "after_seq": after_seq}
        try:
            with httpx.stream(
                "GET",
                f"{self.url}{API}/executions/{execution_id}/stream",
                params=params,
                headers={"Authorization": f"Bearer {self.access_token}"},
                timeout=None,
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_of(response)
                kind = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        yield kind, json.loads(line[6:])
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"the stream from {self.url} broke ({type(exc).__name__})") from None


def _error_of(response: Any) -> ApiError:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    return ApiError(
        response.status_code,
        str(error.get("code") or "http_error"),
        str(error.get("message") or f"HTTP {response.status_code}"),
    )
