"""The one boundary where Playwright's exceptions become `StepError`s.

    TimeoutError waiting for a locator -> kind `element_not_found` (retryable), as the targets module says
    other playwright TimeoutError   -> kind `timeout` (retryable): a load, a URL, a JS condition did not come
    "strict mode violation"         -> kind `ambiguous_target` (not retryable): fix the target
    selector syntax / engine errors -> kind `invalid_selector` (not retryable)
    net::ERR_* while navigating     -> kind `navigation` (retryable: the site may come back)
    page / context / browser closed -> kind `browser_closed` (retryable: the session reopens)
    anything else from Playwright   -> kind `browser` (not retryable)

Only the first line of Playwright's message is kept: the call log below it may quote what was
typed. `StepError`s raised inside (by the targets module, for instance) pass through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.errors import MissingDependency, StepError

__all__ = ["classify_playwright_error", "map_playwright_errors", "require_playwright"]

_SELECTOR_PROBLEMS = re.compile(
    r"(Unexpected token|is not a valid selector|Unknown engine|SyntaxError|Failed to parse|"
    r"Unsupported token|Unexpected end|Invalid selector|Expected .* but found)",
    re.IGNORECASE,
)
_CLOSED = re.compile(r"(has been closed|Target closed|Browser closed|Connection closed)", re.IGNORECASE)


def require_playwright() -> Any:
    """Import `playwright.async_api`, or raise the error that says what to install."""
    try:
        import playwright.async_api as api
    except ImportError:
        raise MissingDependency("Playwright", extra="browser") from None
    return api


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "no message"
    return line.strip().removeprefix("Error: ")


def classify_playwright_error(exc: BaseException, where: str) -> StepError:
    """The `StepError` for a Playwright exception raised while doing `where`."""
    api = require_playwright()
    message = _first_line(str(getattr(exc, "message", None) or exc))
    details: dict[str, Any] = {"playwright": message}
    if isinstance(exc, api.TimeoutError):
        if "waiting for locator(" in str(exc):  # an action's element never came (or never became actionable)
            return StepError(
                f"{where}: no element matched in time, or it never became visible and enabled ({message})",
                kind="element_not_found",
                retryable=True,
                details=details,
            )
        return StepError(f"{where}: timed out ({message})", kind="timeout", retryable=True, details=details)
    if "strict mode violation" in message:
        return StepError(f"{where}: {message}", kind="ambiguous_target", retryable=False, details=details)
    if _SELECTOR_PROBLEMS.search(message):
        return StepError(
            f"{where}: invalid selector ({message})", kind="invalid_selector", retryable=False, details=details
        )
    if "net::ERR_" in message or "NS_ERROR_" in message:
        return StepError(f"{where}: {message}", kind="navigation", retryable=True, details=details)
    if _CLOSED.search(message):
        return StepError(
            f"{where}: the browser was closed ({message})", kind="browser_closed", retryable=True, details=details
        )
    return StepError(f"{where}: {message}", kind="browser", retryable=False, details=details)


@contextmanager
def map_playwright_errors(where: str) -> Iterator[None]:
    """Translate Playwright's exceptions raised inside the block.

    Args:
        where: what was being done and on what, for the message
            (`click '#submit' on http://host/form`).
    """
    try:
        yield
    except StepError:
        raise
    except Exception as exc:
        api = require_playwright()
        if isinstance(exc, api.Error):
            raise classify_playwright_error(exc, where) from None
        raise
