"""The engine's retry waits as long as the failing step was told to (`details.retry_after`).

The delays are recorded by a stand-in for `asyncio` inside the runner (no test sleeps for real).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from shared.engine import _runner
from shared.engine._retry import retry_after
from shared.errors import StepError
from shared.steps import step
from tests.shared.conftest import Probe, build_test_steps
from tests.shared.test_engine_errors import RecordingAsyncio


class LimitedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_times: int = 1
    retry_after: Any = None


_calls: dict[str, int] = {}


@step("test.rate_limited", params=LimitedParams)
def rate_limited(params: LimitedParams) -> str:
    """Fails `fail_times` times with a retryable error carrying `retry_after`, then succeeds."""
    from shared.steps import context

    key = context().path
    _calls[key] = _calls.get(key, 0) + 1
    if _calls[key] <= params.fail_times:
        details = {} if params.retry_after is None else {"retry_after": params.retry_after}
        raise StepError("429: slow down", kind="rate_limited", retryable=True, details=details)
    return "done"


@pytest.fixture
def probe_steps(probe: Probe) -> list[Callable[..., Any]]:
    _calls.clear()
    return [*build_test_steps(probe), rate_limited]


@pytest.fixture
def engine_sleeps(monkeypatch: pytest.MonkeyPatch) -> RecordingAsyncio:
    recorder = RecordingAsyncio()
    monkeypatch.setattr(_runner, "asyncio", recorder)
    return recorder


def limited(retry: dict[str, Any], timeout_s: float | None = None, **params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"id": "call", "type": "test.rate_limited", "params": params, "retry": retry}
    if timeout_s is not None:
        node["timeout_s"] = timeout_s
    return node


@pytest.mark.parametrize(
    ("retry", "timeout_s", "params", "delays"),
    [
        # Retry-After longer than the backoff: it wins.
        ({"max_attempts": 3, "backoff_s": 1}, None, {"fail_times": 2, "retry_after": 7.5}, [7.5, 7.5]),
        # Shorter than the backoff: the backoff stays (2nd retry: 1 * 2).
        ({"max_attempts": 3, "backoff_s": 1}, None, {"fail_times": 2, "retry_after": 0.5}, [1, 2]),
        # Capped by the policy's max delay...
        ({"max_attempts": 2, "backoff_s": 1, "max_delay_s": 30}, None, {"retry_after": 3600}, [30]),
        # ... and by the node's timeout.
        ({"max_attempts": 2, "backoff_s": 1}, 12, {"retry_after": 3600}, [12]),
        # No retry_after, or not a number: the policy's backoff alone.
        ({"max_attempts": 2, "backoff_s": 4}, None, {}, [4]),
        ({"max_attempts": 2, "backoff_s": 4}, None, {"retry_after": "soon"}, [4]),
        ({"max_attempts": 2, "backoff_s": 4}, None, {"retry_after": True}, [4]),
    ],
)
async def test_the_wait_is_the_longer_of_backoff_and_retry_after_within_the_caps(
    make_flow: Any,
    run: Any,
    engine_sleeps: RecordingAsyncio,
    retry: dict[str, Any],
    timeout_s: float | None,
    params: dict[str, Any],
    delays: list[float],
) -> None:
    result, events = await run(make_flow([limited(retry, timeout_s, **params)]))

    assert result.status == "succeeded"
    assert engine_sleeps.delays == delays
    journaled = [e.data["retry_in_s"] for e in events if e.type == "node.failed" and e.data["will_retry"]]
    assert journaled == delays


async def test_the_last_failure_carries_retry_after_and_no_wait(
    make_flow: Any, run: Any, engine_sleeps: RecordingAsyncio
) -> None:
    result, events = await run(make_flow([limited({"max_attempts": 2}, fail_times=5, retry_after=9)]))

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["details"] == {"retry_after": 9}
    last = [e for e in events if e.type == "node.failed"][-1]
    assert last.data["will_retry"] is False
    assert "retry_in_s" not in last.data
    assert engine_sleeps.delays == [9]


@pytest.mark.parametrize(
    ("details", "expected"),
    [({"retry_after": 2}, 2.0), ({"retry_after": -1}, 0.0), ({"retry_after": float("nan")}, None), ({}, None)],
)
def test_retry_after_reads_one_key_in_seconds(details: dict[str, Any], expected: float | None) -> None:
    assert retry_after(StepError("x", details=details)) == expected
