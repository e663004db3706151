"""When to try an HTTP request again, and how long to wait: pure functions, no I/O.

Retrying a request that changes something (POST, PATCH) may do it twice, so only idempotent
methods are retried unless the flow says otherwise; a 429 or 503 that names its own wait in
`Retry-After` (seconds or an HTTP date) is honoured instead of the exponential backoff.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({408, 429})
"""Besides every 5xx: a request timeout and too many requests."""


def is_retryable_status(status: int) -> bool:
    """A status worth asking again for: 408, 429 and every 5xx."""
    return status in RETRY_STATUSES or 500 <= status <= 599


def may_retry(method: str, *, retry_non_idempotent: bool) -> bool:
    """Whether a request with `method` may be sent again after a failure."""
    return retry_non_idempotent or method.upper() in IDEMPOTENT_METHODS


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date.

    Returns:
        The wait (0 for a date in the past), or None when the header is absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(retry: int, base_s: float, max_s: float, *, jitter: float = 0.1) -> float:
    """The wait before retry number `retry` (1-based): `base * 2**(retry-1)`, capped, jittered.

    The jitter (a fraction of the delay, both ways) spreads robots that failed together.
    """
    delay = min(max_s, base_s * float(2 ** max(0, retry - 1)))
    if jitter and delay:
        delay *= 1 + random.uniform(-jitter, jitter)
    return max(0.0, min(delay, max_s))
