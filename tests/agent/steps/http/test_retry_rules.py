"""The pure retry rules: which statuses and methods, `Retry-After` in both forms, backoff."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.steps.http._retry import backoff_delay, is_retryable_status, may_retry, parse_retry_after


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Mon, 07 Dec 2026 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 07 Dec 2026 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_which_statuses_and_methods_are_retried() -> None:
    assert [s for s in (200, 400, 401, 404, 408, 409, 429, 500, 502, 503, 504) if is_retryable_status(s)] == [
        408,
        429,
        500,
        502,
        503,
        504,
    ]
    assert may_retry("GET", retry_non_idempotent=False)
    assert may_retry("put", retry_non_idempotent=False)
    assert not may_retry("POST", retry_non_idempotent=False)
    assert not may_retry("PATCH", retry_non_idempotent=False)
    assert may_retry("POST", retry_non_idempotent=True)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, 0.5, 3.0, jitter=0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    for _ in range(50):
        assert 0.45 <= backoff_delay(1, 0.5, 3.0) <= 0.55
