"""The one place where httpx's exceptions become step errors.

    httpx.TimeoutException    -> StepTimeout           kind `timeout`,    retryable
    httpx.ConnectError (TLS)  -> StepError             kind `tls`,        not retryable
    httpx.TransportError      -> StepError             kind `connection`, retryable
    httpx.InvalidURL, UnsupportedProtocol -> StepError kind `validation`, not retryable
    a status the flow does not accept     -> StepError kind `http_status`, retryable for
                                             408, 429 and 5xx (see `_retry.is_retryable_status`)

Messages name the method and the URL without its query string (which may carry an API key)
and never quote a header.
"""

from __future__ import annotations

import functools
import ssl
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from agent.steps.http._retry import is_retryable_status
from shared.errors import MissingDependency, StepError, StepTimeout

if TYPE_CHECKING:
    import httpx

BODY_CUT = 500
"""Characters of a refused answer's body kept in the error."""


def safe_url(url: object) -> str:
    """The URL as messages show it: no user info, no query string, no fragment. Never raises."""
    return _safe_url(str(url))


@functools.lru_cache(maxsize=1024)
def _safe_url(url: str) -> str:
    # Every answer's output names its URL: a flow calls the same few URLs again and again.
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    try:
        port = parts.port
    except ValueError:  # out of range or not a number: shown without it
        port = None
    host = parts.hostname or ""
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@functools.cache
def import_httpx() -> Any:
    """httpx, or the error saying which extra installs it."""
    try:
        import httpx
    except ImportError:
        raise MissingDependency("httpx", extra="agent") from None
    return httpx


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


def map_httpx_errors(method: str, url: object) -> _HttpxErrors:
    """Translate httpx's errors raised inside the `with` block; `url` is shown without its query."""
    return _HttpxErrors(import_httpx(), method, url)


class _HttpxErrors:
    # A class rather than a generator-based context manager: every request enters two of
    # these, and a generator's setup costs several times the block's own bookkeeping.
    __slots__ = ("httpx", "method", "url")

    def __init__(self, httpx: Any, method: str, url: object) -> None:
        self.httpx = httpx
        self.method = method
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            return
        httpx = self.httpx
        if isinstance(exc, httpx.HTTPError | httpx.InvalidURL):
            raise _mapped(httpx, exc, self.method, self.url) from None
        if isinstance(exc, httpx.StreamError):
            where = f"{self.method.upper()} {safe_url(self.url)}"
            raise StepError(f"{where}: {type(exc).__name__}: {exc}", kind="http") from None


def _mapped(httpx: Any, exc: Exception, method: str, url: object) -> StepError:
    # Built only when something failed: the happy path parses no URL.
    shown = safe_url(url)
    where = f"{method.upper()} {shown}"
    details = {"url": shown}
    if isinstance(exc, httpx.TimeoutException):
        return StepTimeout(
            f"{where} timed out ({type(exc).__name__})", details={**details, "error": type(exc).__name__}
        )
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return StepError(f"{where}: {exc}", kind="validation", retryable=False)
    if isinstance(exc, httpx.ConnectError) and _is_tls_failure(exc):
        return StepError(f"{where}: the TLS handshake failed: {exc}", kind="tls", retryable=False, details=details)
    if isinstance(exc, httpx.ConnectError):
        return StepError(f"{where}: cannot connect: {exc}", kind="connection", retryable=True, details=details)
    if isinstance(exc, httpx.TransportError):
        return StepError(
            f"{where}: the connection failed: {type(exc).__name__}: {exc}",
            kind="connection",
            retryable=True,
            details=details,
        )
    return StepError(f"{where}: {type(exc).__name__}: {exc}", kind="http", retryable=False, details=details)


def status_error(method: str, response: httpx.Response, body: str) -> StepError:
    """The error for an answer whose status the flow does not accept, with a cut body."""
    cut = body[:BODY_CUT] + ("…" if len(body) > BODY_CUT else "")
    status = response.status_code
    return StepError(
        f"{method.upper()} {safe_url(response.request.url)} answered {status} {response.reason_phrase}: {cut}",
        kind="http_status",
        retryable=is_retryable_status(status),
        details={"status": status, "url": safe_url(response.request.url), "body": cut},
    )
