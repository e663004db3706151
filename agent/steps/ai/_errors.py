"""Where the anthropic SDK's errors become `StepError`s (the family's one boundary).

StepError
├── kind "network"          no connection to the API; retryable
├── kind "timeout"          (StepTimeout) the call ran out of time; retryable
├── kind "authentication"   bad or missing API key, no permission; not retryable
├── kind "rate_limited"     429; retryable, `details.retry_after` in seconds when sent
├── kind "overloaded"       529 or a 5xx; retryable (`details.retry_after` too when sent)
├── kind "invalid_request"  400/404/413/422: the request itself is wrong (a model refusing
│                           `temperature` says so); not retryable
├── kind "refusal"          the model refused (`stop_reason` refusal); not retryable
└── kind "ai_output"        the answer did not fit (schema, label, box); not retryable
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.errors import StepError, StepTimeout

__all__ = ["map_anthropic_errors"]


def _retry_after(exc: Any) -> float | None:
    """Seconds the API asked to wait: `retry-after-ms` or `retry-after` (seconds), else None."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    for header, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(header)
        try:
            seconds = float(value) / scale if value is not None else None
        except ValueError:
            seconds = None
        if seconds is not None and seconds >= 0 and seconds != float("inf"):
            return seconds
    return None


def _status_error(exc: Any, where: str) -> StepError:
    status = int(getattr(exc, "status_code", 0))
    body = getattr(exc, "body", None)
    detail = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
    details: dict[str, Any] = {"status": status, "request_id": getattr(exc, "request_id", None)}
    wait = _retry_after(exc)
    if wait is not None:
        # One key across the families, read by the engine's retry (`shared/engine/_retry.py`).
        details["retry_after"] = wait
    said = f": {detail}" if detail else ""
    if status in (401, 403):
        return StepError(
            f"{where} rejected the API key ({status}{said}); check the credential or ANTHROPIC_API_KEY",
            kind="authentication",
            retryable=False,
            details=details,
        )
    if status == 429:
        return StepError(
            f"{where} rate limit reached (429{said})", kind="rate_limited", retryable=True, details=details
        )
    if status >= 500:
        return StepError(
            f"{where} is overloaded or failing ({status}{said})", kind="overloaded", retryable=True, details=details
        )
    if status == 400 and "temperature" in detail:
        # Newer models fix their own sampling and answer 400 invalid_request_error naming
        # `temperature` (alone, or with top_p or thinking): say what to change in the flow.
        details["param"] = "temperature"
        return StepError(
            f"{where} refused `temperature` for this model (400{said}); leave temperature empty for it",
            kind="invalid_request",
            retryable=False,
            details=details,
        )
    return StepError(
        f"{where} refused the request ({status}{said})", kind="invalid_request", retryable=False, details=details
    )


def _translate(exc: Exception, where: str) -> StepError:
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return StepTimeout(f"{where} did not answer in time")
    if isinstance(exc, anthropic.APIConnectionError):
        return StepError(f"cannot reach {where} (no network or wrong base URL)", kind="network", retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, where)
    return StepError(f"{where} call failed: {type(exc).__name__}: {exc}", kind="ai", retryable=False)


@contextmanager
def map_anthropic_errors(where: str) -> Iterator[None]:
    """Translate anthropic SDK errors into `StepError`s; `where` names the API (its base URL).

    `StepError`s raised inside pass through unchanged.
    """
    try:
        yield
    except StepError:
        raise
    except Exception as exc:  # the family's one boundary: nothing foreign reaches the engine
        raise _translate(exc, where) from exc
