"""Errors: retry policies, error kinds, timeouts, cancellation and on_error policies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from shared.engine import MemoryJournal, _runner


def work(node_id: str, *, retry: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": "test.work", "params": params}
    if retry is not None:
        node["retry"] = retry
    return node


def noop(node_id: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.noop", "params": {"value": value}, **extra}


class RecordingAsyncio:
    """Stands in for the `asyncio` module inside the engine's runner: records the delays it is
    asked to sleep (and does not wait them); everything else is the real asyncio."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._real_sleep = asyncio.sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.delays.append(delay)
        return await self._real_sleep(0, result)


@pytest.fixture
def engine_sleeps(monkeypatch: pytest.MonkeyPatch) -> RecordingAsyncio:
    recorder = RecordingAsyncio()
    monkeypatch.setattr(_runner, "asyncio", recorder)
    return recorder


# -- retry ---------------------------------------------------------------------------------------


async def test_a_retryable_error_is_retried_with_the_same_idempotency_key_until_it_succeeds(make_flow, run, probe):
    flow = make_flow(
        [work("w", value="done", fail_times=2, retry={"max_attempts": 3, "backoff_s": 0})],
        outputs={"w": "{{ steps.w.output }}"},
    )
    result, events = await run(flow)

    assert result.status == "succeeded"
    assert result.outputs == {"w": "done"}
    assert probe.attempts == [("w", 1), ("w", 2), ("w", 3)]
    assert len(probe.calls) == 1
    assert [(e.type, e.data.get("attempt"), e.data.get("will_retry")) for e in events if e.path == "w"] == [
        ("node.started", 1, None),
        ("node.failed", 1, True),
        ("node.started", 2, None),
        ("node.failed", 2, True),
        ("node.started", 3, None),
        ("node.succeeded", None, None),
    ]
    assert events[2].data["error"]["message"] == "failure 1 of 2"


async def test_when_the_attempts_run_out_the_last_error_fails_the_execution(make_flow, run, probe):
    flow = make_flow(
        [work("w", fail_times=10, retry={"max_attempts": 3, "backoff_s": 0}), work("after")], [("w", "after")]
    )
    result, events = await run(flow)

    assert result.status == "failed"
    assert result.error == {
        "kind": "application",
        "message": "failure 3 of 10",
        "retryable": True,
        "details": {},
        "node": "w",
        "type": "test.work",
    }
    assert probe.started == ["w", "w", "w"]
    last = [e for e in events if e.type == "node.failed"][-1]
    assert (last.data["attempt"], last.data["will_retry"]) == (3, False)


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        ({"max_attempts": 5, "backoff_s": 1, "factor": 3, "max_delay_s": 5}, [1, 3, 5, 5]),
        ({"max_attempts": 4, "backoff_s": 0.5, "factor": 1}, [0.5, 0.5, 0.5]),
        ({"max_attempts": 3}, [1, 2]),
        ({"max_attempts": 4, "backoff_s": 10, "max_delay_s": 2}, [2, 2, 2]),
    ],
)
async def test_retry_delays_start_at_backoff_grow_by_factor_and_stop_at_max_delay(
    make_flow, run, engine_sleeps, policy, delays
):
    flow = make_flow([work("w", fail_times=10, retry=policy)])
    result, _ = await run(flow)

    assert result.status == "failed"
    assert engine_sleeps.delays == delays


async def test_retry_delays_are_really_waited_between_attempts(make_flow, run):
    flow = make_flow([work("w", fail_times=2, retry={"max_attempts": 3, "backoff_s": 0.04, "factor": 2})])
    _, events = await run(flow)

    started = [e.ts for e in events if e.type == "node.started"]
    failed = [e.ts for e in events if e.type == "node.failed"]
    assert started[1] - failed[0] >= 0.04
    assert started[2] - failed[1] >= 0.08
    assert started[2] - failed[1] < 0.5


@pytest.mark.parametrize(
    ("kind", "on", "calls"),
    [
        ("rate_limited", ["rate_limited"], 3),
        ("rate_limited", ["timeout", "rate_limited"], 3),
        ("application", ["timeout"], 1),
        ("application", [], 1),
        ("application", None, 3),
    ],
)
async def test_retry_on_restricts_retries_to_the_listed_kinds(make_flow, run, probe, kind, on, calls):
    retry = {"max_attempts": 3, "backoff_s": 0, "on": on}
    result, _ = await run(make_flow([work("w", kind=kind, fail_times=10, retry=retry)]))

    assert result.error["kind"] == kind
    assert probe.calls_at("w") == calls


async def test_an_error_marked_not_retryable_is_not_retried_even_when_its_kind_is_listed(make_flow, run, probe):
    retry = {"max_attempts": 3, "backoff_s": 0, "on": ["application"]}
    result, _ = await run(make_flow([work("w", fail_times=10, retryable=False, retry=retry)]))

    assert result.error["retryable"] is False
    assert probe.calls_at("w") == 1


@pytest.mark.parametrize("on", [None, ["business"]])
async def test_a_business_error_is_never_retried(make_flow, run, on):
    node = {
        "id": "f",
        "type": "core.fail",
        "params": {"message": "bad invoice"},
        "retry": {"max_attempts": 3, "backoff_s": 0, "on": on},
    }
    result, events = await run(make_flow([node]))

    assert result.error["kind"] == "business"
    assert [e.type for e in events if e.path == "f"] == ["node.started", "node.failed"]


async def test_a_business_error_is_never_retried_even_when_marked_retryable(make_flow, run):
    node = {
        "id": "f",
        "type": "core.fail",
        "params": {"message": "bad invoice", "retryable": True},
        "retry": {"max_attempts": 3, "backoff_s": 0},
    }
    result, events = await run(make_flow([node]))

    assert result.error["kind"] == "business"
    assert [e.type for e in events if e.path == "f"] == ["node.started", "node.failed"]


async def test_invalid_params_fail_with_kind_validation_and_are_not_retried(make_flow, run, probe):
    node = work("w", sleep="{{ 'slow' }}", retry={"max_attempts": 3, "backoff_s": 0})
    result, events = await run(make_flow([node]))

    assert result.error["kind"] == "validation"
    assert result.error["retryable"] is False
    assert "params.sleep" in result.error["message"]
    assert probe.started == []
    assert len([e for e in events if e.type == "node.started"]) == 1


@pytest.mark.parametrize("expression", ["{{ steps.nowhere.output }}", "{{ 1 / 0 }}", "{{ inputs.missing }}"])
async def test_an_expression_error_fails_with_kind_expression_and_is_not_retried(make_flow, run, probe, expression):
    node = work("w", value=expression, retry={"max_attempts": 3, "backoff_s": 0})
    result, events = await run(make_flow([node]))

    assert result.error["kind"] == "expression"
    assert result.error["node"] == "w"
    assert result.error["message"].startswith("params:")
    assert probe.started == []
    assert len([e for e in events if e.type == "node.started"]) == 1


async def test_an_unexpected_exception_becomes_a_retryable_internal_error(make_flow, run, probe):
    node = {
        "id": "b",
        "type": "test.boom",
        "params": {"message": "exploded"},
        "retry": {"max_attempts": 2, "backoff_s": 0},
    }
    result, _ = await run(make_flow([node]))

    assert result.error["kind"] == "internal"
    assert result.error["retryable"] is True
    assert result.error["message"] == "ValueError: exploded"
    assert probe.started == ["b", "b"]


async def test_a_sync_step_runs_in_a_worker_thread_and_its_errors_are_handled_the_same(make_flow, run, probe):
    node = {
        "id": "s",
        "type": "test.sync_work",
        "params": {"value": 7, "fail_times": 1},
        "retry": {"max_attempts": 2, "backoff_s": 0},
    }
    result, _ = await run(make_flow([node], outputs={"s": "{{ steps.s.output }}"}))

    assert result.outputs == {"s": 7}
    assert probe.started == ["s", "s"]


async def test_an_error_in_set_fails_the_node_with_kind_expression_without_running_it_again(make_flow, run, probe):
    node = {
        **work("w", value=3, retry={"max_attempts": 3, "backoff_s": 0}),
        "set": {"x": "{{ output.missing.deeper }}"},
    }
    result, events = await run(make_flow([node]))

    assert result.error["kind"] == "expression"
    assert result.error["message"].startswith("set:")
    assert probe.calls_at("w") == 1
    assert not [e for e in events if e.type in ("variable.set", "node.succeeded")]


async def test_an_error_in_set_is_journaled_with_the_attempt_that_produced_the_output(make_flow, run):
    node = {
        **work("w", fail_times=2, retry={"max_attempts": 3, "backoff_s": 0}),
        "set": {"x": "{{ output.missing.deeper }}"},
    }
    _, events = await run(make_flow([node]))

    assert [e.data["attempt"] for e in events if e.type == "node.failed"] == [1, 2, 3]


async def test_an_error_in_the_outputs_fails_the_execution_with_kind_expression(make_flow, run):
    result, _ = await run(make_flow([noop("a", 1)], outputs={"x": "{{ steps.a.output.nope.nope }}"}))

    assert result.status == "failed"
    assert result.error["kind"] == "expression"
    assert result.error["message"].startswith("outputs:")
    assert result.outputs == {}


async def test_an_error_in_the_initial_variables_fails_the_execution_before_any_node(make_flow, run, probe):
    result, events = await run(make_flow([work("a")], variables={"v": "{{ inputs.nope }}"}))

    assert result.status == "failed"
    assert result.error["kind"] == "expression"
    assert result.error["message"].startswith("variables:")
    assert probe.started == []
    assert [e.type for e in events] == ["execution.started", "execution.finished"]


# -- timeouts ------------------------------------------------------------------------------------


async def test_a_step_that_outlives_its_timeout_is_cancelled_and_fails_with_kind_timeout(make_flow, run, probe):
    node = {**work("w", sleep=5), "timeout_s": 0.05}
    started = time.monotonic()
    result, _ = await run(make_flow([node]))

    assert time.monotonic() - started < 0.5
    assert result.error["kind"] == "timeout"
    assert result.error["retryable"] is True
    assert "0.05 s" in result.error["message"]
    assert probe.cancelled == ["w"]


async def test_a_timed_out_attempt_is_retried(make_flow, run, probe):
    node = {
        **work("w", value="second time lucky", first_sleep=5, retry={"max_attempts": 2, "backoff_s": 0}),
        "timeout_s": 0.05,
    }
    result, events = await run(make_flow([node], outputs={"w": "{{ steps.w.output }}"}))

    assert result.outputs == {"w": "second time lucky"}
    (failed,) = [e for e in events if e.type == "node.failed"]
    assert (failed.data["error"]["kind"], failed.data["will_retry"]) == ("timeout", True)
    assert probe.cancelled == ["w"]


async def test_a_container_that_outlives_its_timeout_fails_with_kind_timeout(make_flow, run, probe):
    node = {
        "id": "each",
        "type": "control.foreach",
        "params": {"items": 3},
        "timeout_s": 0.05,
        "body": {"nodes": [work("w", sleep="{{ 0 if index == 0 else 5 }}")]},
    }
    result, _ = await run(make_flow([node]))

    assert result.error["kind"] == "timeout"
    assert result.error["node"] == "each"
    assert probe.finished == ["each[0]/w"]
    assert probe.cancelled == ["each[1]/w"]


async def test_a_flow_that_outlives_its_timeout_ends_as_timed_out(make_flow, run, probe):
    flow = make_flow([work("slow", sleep=5), work("after")], [("slow", "after")], settings={"timeout_s": 0.05})
    started = time.monotonic()
    result, events = await run(flow)

    assert time.monotonic() - started < 0.5
    assert result.status == "timed_out"
    assert result.error["kind"] == "timeout"
    assert result.outputs == {}
    assert probe.cancelled == ["slow"]
    assert events[-1].data["status"] == "timed_out"


async def test_a_sync_step_is_told_to_stop_when_the_flow_times_out(make_flow, run, probe):
    flow = make_flow([{"id": "p", "type": "test.poll", "params": {"seconds": 0.4}}], settings={"timeout_s": 0.05})
    result, _ = await run(flow)
    assert result.status == "timed_out"

    assert await asyncio.to_thread(probe.exited.wait, 1)
    assert probe.saw_cancel == ["p"]


# -- cancellation ------------------------------------------------------------------------------


async def wait_until(predicate: Any, within: float = 1.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "the condition never became true"
        await asyncio.sleep(0.002)


async def test_cancel_ends_the_execution_as_cancelled_and_a_sync_step_sees_it(make_flow, make_engine, probe):
    engine = make_engine()
    flow = make_flow([{"id": "p", "type": "test.poll", "params": {"seconds": 2}}, work("after")], [("p", "after")])
    journal = MemoryJournal("to-cancel")
    task = asyncio.create_task(engine.run(flow, journal=journal))
    await wait_until(lambda: probe.started)

    assert engine.cancel("to-cancel") is True
    result = await asyncio.wait_for(task, 1)

    assert result.status == "cancelled"
    assert result.error["kind"] == "cancelled"
    assert await asyncio.to_thread(probe.exited.wait, 1)
    assert probe.saw_cancel == ["p"]
    assert "after" not in probe.started
    assert journal.read()[-1].data["status"] == "cancelled"
    assert engine.cancel("to-cancel") is False


async def test_cancel_interrupts_an_async_step_and_a_retry_backoff(make_flow, make_engine, probe):
    engine = make_engine()
    flow = make_flow([work("w", fail_times=1, retry={"max_attempts": 2, "backoff_s": 30})])
    journal = MemoryJournal("backoff")
    task = asyncio.create_task(engine.run(flow, journal=journal))
    await wait_until(lambda: any(e.type == "node.failed" for e in journal.read()))

    assert engine.cancel("backoff")
    result = await asyncio.wait_for(task, 1)

    assert result.status == "cancelled"
    assert probe.started == ["w"]


async def test_cancel_of_an_unknown_execution_returns_false(make_engine):
    assert make_engine().cancel("no-such-execution") is False


async def test_a_host_stopping_the_task_leaves_the_journal_unfinished(make_flow, make_engine, probe):
    engine = make_engine()
    journal = MemoryJournal("host-stop")
    task = asyncio.create_task(engine.run(make_flow([work("w", sleep=5)]), journal=journal))
    await wait_until(lambda: probe.started)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert "execution.finished" not in [e.type for e in journal.read()]
    assert probe.cancelled == ["w"]
    assert engine.cancel("host-stop") is False


async def test_a_failing_node_cancels_its_running_siblings(make_flow, run, probe):
    flow = make_flow(
        [work("slow", sleep=5), work("bad", fail_times=1, retryable=False), work("after")],
        [("slow", "after"), ("bad", "after")],
    )
    started = time.monotonic()
    result, events = await run(flow)

    assert time.monotonic() - started < 0.5
    assert result.error["node"] == "bad"
    assert probe.cancelled == ["slow"]
    assert "after" not in probe.started
    assert not [e for e in events if e.type == "node.succeeded"]


# -- on_error policies ---------------------------------------------------------------------------


async def test_on_error_skip_records_the_node_as_skipped_and_runs_downstream(make_flow, run):
    flow = make_flow(
        [
            {**work("w", fail_times=1, retryable=False), "on_error": "skip"},
            noop(
                "next",
                {
                    "status": "{{ steps.w.status }}",
                    "error": "{{ steps.w.error.message }}",
                    "output": "{{ steps.w.output }}",
                },
            ),
        ],
        [("w", "next")],
        outputs={"next": "{{ steps.next.output }}"},
    )
    result, events = await run(flow)

    assert result.status == "succeeded"
    assert result.outputs == {"next": {"status": "skipped", "error": "failure 1 of 1", "output": None}}
    (skipped,) = [e for e in events if e.type == "node.skipped"]
    assert skipped.path == "w"
    assert (skipped.data["reason"], skipped.data["port"]) == ("error", "out")
    assert skipped.data["error"]["kind"] == "application"


async def test_on_error_continue_marks_the_node_failed_and_passes_the_error_as_its_output(make_flow, run):
    flow = make_flow(
        [
            {**work("w", fail_times=1, retryable=False), "on_error": "continue"},
            noop("next", {"status": "{{ steps.w.status }}", "kind": "{{ steps.w.output.kind }}"}),
        ],
        [("w", "next")],
        outputs={"next": "{{ steps.next.output }}"},
    )
    result, events = await run(flow)

    assert result.status == "succeeded"
    assert result.outputs == {"next": {"status": "failed", "kind": "application"}}
    (failed,) = [e for e in events if e.type == "node.failed"]
    assert (failed.data["handled"], failed.data["port"]) == ("continue", "out")
    assert failed.data["output"]["message"] == "failure 1 of 1"


async def test_on_error_fallback_takes_the_error_port_with_error_in_scope(make_flow, run, probe):
    flow = make_flow(
        [
            {**work("w", fail_times=1, kind="rate_limited", retryable=False), "on_error": "fallback"},
            work("happy"),
            noop(
                "recover",
                {"kind": "{{ error.kind }}", "node": "{{ error.node }}", "port": "{{ steps.w.port }}"},
            ),
        ],
        [("w", "happy"), ("w", "error", "recover")],
        outputs={"recover": "{{ steps.recover.output }}", "happy": "{{ steps.happy.status }}"},
    )
    result, events = await run(flow)

    assert result.status == "succeeded"
    assert result.outputs == {
        "recover": {"kind": "rate_limited", "node": "w", "port": "error"},
        "happy": "skipped",
    }
    assert "happy" not in probe.started
    (failed,) = [e for e in events if e.type == "node.failed"]
    assert (failed.data["handled"], failed.data["port"]) == ("fallback", "error")


async def test_on_error_applies_only_after_the_retries_are_spent(make_flow, run, probe):
    flow = make_flow(
        [
            {**work("w", fail_times=10, retry={"max_attempts": 3, "backoff_s": 0}), "on_error": "fallback"},
            noop("recover", "{{ error.message }}"),
        ],
        [("w", "error", "recover")],
        outputs={"recover": "{{ steps.recover.output }}"},
    )
    result, events = await run(flow)

    assert result.outputs == {"recover": "failure 3 of 10"}
    assert probe.calls_at("w") == 3
    assert [e.data["will_retry"] for e in events if e.type == "node.failed"] == [True, True, False]


async def test_on_error_fallback_on_a_container_routes_its_inner_failure(make_flow, run):
    flow = make_flow(
        [
            {
                "id": "each",
                "type": "control.foreach",
                "params": {"items": [1, 2]},
                "on_error": "fallback",
                "body": {"nodes": [{"id": "f", "type": "core.fail", "params": {"message": "item {{ item }} bad"}}]},
            },
            noop("recover", "{{ error.node }}: {{ error.message }}"),
        ],
        [("each", "error", "recover")],
        outputs={"recover": "{{ steps.recover.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"recover": "each[0]/f: item 1 bad"}
