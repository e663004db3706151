"""How long the engine waits before trying a failed node again.

The policy's backoff is the engine's own guess. A step that was told by the other side how long
to wait (an HTTP 429/503 with `Retry-After`, an AI rate limit) says so in its error:
`details["retry_after"]`, seconds as a number. Retrying sooner would only be refused again, so
the wait is the longer of the two, but never more than the policy's `max_delay_s` nor the
node's `timeout_s` (a node allowed ten seconds per attempt does not sleep for an hour).
"""

from __future__ import annotations

import math
from typing import Any

from shared.errors import StepError
from shared.flow import Node, RetryPolicy

RETRY_AFTER = "retry_after"
"""The key of `StepError.details` with the wait the other side asked for, in seconds."""


def retry_after(err: StepError) -> float | None:
    """The wait `err` asks for, or None when it names none (or not a usable number)."""
    value: Any = err.details.get(RETRY_AFTER) if isinstance(err.details, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return max(0.0, float(value))


def retry_delay(policy: RetryPolicy, node: Node, attempt: int, err: StepError) -> float:
    """Seconds to wait before `attempt` (2 for the first retry) of `node` after `err`.

    Returns:
        max(the policy's backoff, the error's `retry_after`), the latter capped by the policy's
        `max_delay_s` and the node's `timeout_s`.
    """
    backoff = policy.delay_before(attempt)
    asked = retry_after(err)
    if asked is None:
        return backoff
    cap = policy.max_delay_s if node.timeout_s is None else min(policy.max_delay_s, node.timeout_s)
    return max(backoff, min(asked, cap))
