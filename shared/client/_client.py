"""`ApiClient`: calls to the orchestrator's API with token refresh, and its Server-Sent Events.

A client made by `from_session()` uses the session `rpa login` kept (see `_session.py`);
`RPA_URL` and `RPA_TOKEN` (an access token) override it. httpx is imported when a request is
made, not at import: it comes with the `agent` and `server` extras, and the local commands of
`rpa` must work without them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shared.client._account import AccountMixin
from shared.client._admin import AgentsApi, AiApi, CredentialsApi
from shared.client._exceptions import ApiError, StaleRevision
from shared.client._executions import ExecutionsApi
from shared.client._session import Session, load_session, save_session, session_file
from shared.client._workflows import WorkflowsApi

API = "/api/v1"


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:  # pragma: no cover - every extra that talks to a server brings it
        raise ApiError(0, "missing_dependency", "httpx is not installed: pip install 'rpa-suite[agent]'") from None
    return httpx


class ApiClient(AccountMixin):
    """Calls `url`'s API with an access token, refreshing it once when it has expired.

    Besides `request()` (any call, JSON in and out), the typed methods: the account's on the client
    itself (`me`, `orgs`, `switch_org`, `logout`), the others by resource, e.g.
    `client.workflows.list(q="invoice")`, `client.executions.start(workflow_id, inputs={...})`,
    `client.agents`, `client.enrolment_tokens`, `client.credentials`, `client.ai`.

    `on_tokens`, when set, is called with the client after each login, refresh or organisation
    switch (refresh tokens rotate: whoever keeps one must keep the new one). When it is not set, a
    refresh rewrites the `rpa login` session file if there is one.
    """

    def __init__(self, url: str, *, access_token: str = "", refresh_token: str = "", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.timeout = timeout
        self.org_id: str | None = None
        self._refreshing = threading.Lock()
        self.on_tokens: Callable[[ApiClient], None] | None = None
        self.workflows = WorkflowsApi(self)
        self.executions = ExecutionsApi(self)
        self.agents = AgentsApi(self)
        self.enrolment_tokens = self.agents.tokens
        self.credentials = CredentialsApi(self)
        self.ai = AiApi(self)

    def __repr__(self) -> str:  # tokens are credentials: keep them out of logs and tracebacks
        return f"ApiClient(url={self.url!r})"

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

    def login(self, email: str, password: str, *, totp_code: str | None = None, org: str | None = None) -> None:
        """Log in as `email` (to the organisation with slug `org`, default the first); the client then
        holds an access and a refresh token.

        Raises:
            ApiError: the login was refused (code `mfa_required` when a second factor is needed).
        """
        body: dict[str, Any] = {"email": email, "password": password}
        if totp_code:
            body["totp_code"] = totp_code
        if org:
            body["org"] = org
        tokens = self._call("POST", "/auth/login", json=body, auth=False)
        self._take(tokens)

    def _take(self, tokens: Any) -> None:
        if not isinstance(tokens, dict) or "access_token" not in tokens:
            raise ApiError(0, "mfa_required", "this account needs a second factor: pass --totp")
        self.access_token = str(tokens["access_token"])
        self.refresh_token = str(tokens.get("refresh_token") or self.refresh_token)
        self.org_id = str(tokens["org_id"]) if tokens.get("org_id") else self.org_id
        if self.on_tokens is not None:
            self.on_tokens(self)

    def _refresh(self) -> bool:
        if not self.refresh_token:
            return False
        self._take(self._call("POST", "/auth/refresh", json={"refresh_token": self.refresh_token}, auth=False))
        if self.on_tokens is None and not os.environ.get("RPA_TOKEN") and session_file().exists():
            self.save_session()  # refresh tokens rotate
        return True

    def refresh(self) -> None:
        """Exchange the refresh token for a new pair now (it rotates: the old one is spent).

        Raises:
            ApiError: code `no_session` without a refresh token; the API's refusal otherwise.
        """
        with self._refreshing:
            if not self._refresh():
                raise ApiError(0, "no_session", f"not signed in to {self.url}: no refresh token")

    def _refresh_once(self, stale: str) -> bool:
        """Refresh, unless another thread already replaced the access token `stale` (a refresh token
        works once: presenting a spent one makes the orchestrator revoke the whole session, so two
        threads finding the token expired at once must not both refresh)."""
        with self._refreshing:
            if self.access_token != stale:
                return True
            return self._refresh()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of an API call (`path` under /api/v1); raises `ApiError` when refused."""
        response = self.send(method, path, **kwargs)
        return response.json() if response.content else None

    def send(self, method: str, path: str, **kwargs: Any) -> Any:
        """The httpx response of an API call (for its headers or bytes); raises `ApiError` when refused."""
        if not self.access_token:
            self._refresh_once("")
        used = self.access_token
        try:
            return self._send(method, path, **kwargs)
        except ApiError as error:
            if error.status == 401 and self._refresh_once(used):
                return self._send(method, path, **kwargs)
            raise

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return response.json() if response.content else None

    def _send(
        self, method: str, path: str, *, auth: bool = True, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        httpx = _httpx()
        sent = {"Authorization": f"Bearer {self.access_token}"} if auth and self.access_token else {}
        sent.update(headers or {})
        try:
            response = httpx.request(method, f"{self.url}{API}{path}", headers=sent, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                0, "unreachable", f"cannot reach the orchestrator at {self.url} ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def stream(self, execution_id: str, *, follow: bool, after_seq: int = 0) -> Iterator[tuple[str, Any]]:
        """The execution's journal as (event, data) pairs: `journal` events, then `end`."""
        httpx = _httpx()
        if not self.access_token:
            self._refresh_once("")
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
    kind = StaleRevision if response.status_code == 412 else ApiError
    return kind(
        response.status_code,
        str(error.get("code") or "http_error"),
        str(error.get("message") or f"HTTP {response.status_code}"),
        error.get("details"),
    )
