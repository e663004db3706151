"""`runtime.eager.start_now`: a coroutine run in the caller's turn, carried on by a task only
when it waits, with its errors logged and its order of work kept."""

from __future__ import annotations

import asyncio
import logging

import pytest

from orchestrator.runtime.eager import start_now


async def test_what_waits_for_nothing_is_done_before_start_now_returns() -> None:
    done: list[str] = []

    async def send() -> None:
        lock = asyncio.Lock()
        async with lock:  # free: no wait
            done.append("sent")

    keep: set[asyncio.Task[None]] = set()
    start_now(send(), keep=keep)
    assert done == ["sent"]
    assert keep == set()


async def test_what_waits_is_carried_on_from_where_it_stopped() -> None:
    lock = asyncio.Lock()
    order: list[str] = []
    await lock.acquire()

    async def send(name: str) -> None:
        order.append(f"{name} tries")
        async with lock:
            order.append(f"{name} sends")
            await asyncio.sleep(0)  # a bare turn, too
            order.append(f"{name} done")

    keep: set[asyncio.Task[None]] = set()
    start_now(send("a"), keep=keep)
    start_now(send("b"), keep=keep)
    assert order == ["a tries", "b tries"]
    assert len(keep) == 2
    lock.release()
    await asyncio.gather(*keep)
    assert order == ["a tries", "b tries", "a sends", "a done", "b sends", "b done"]
    assert keep == set()


async def test_a_result_and_an_error_of_what_it_waited_for_reach_it() -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[int] = loop.create_future()
    refusal: asyncio.Future[int] = loop.create_future()
    seen: list[object] = []

    async def wait_for(future: asyncio.Future[int]) -> None:
        try:
            seen.append(await future)
        except ValueError as error:
            seen.append(str(error))

    keep: set[asyncio.Task[None]] = set()
    start_now(wait_for(answer), keep=keep)
    start_now(wait_for(refusal), keep=keep)
    answer.set_result(7)
    refusal.set_exception(ValueError("refused"))
    await asyncio.gather(*keep)
    assert seen == [7, "refused"]


async def test_errors_are_logged_at_once_or_later(caplog: pytest.LogCaptureFixture) -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def fails_at_once() -> None:
        raise RuntimeError("at once")

    async def fails_later() -> None:
        await gate
        raise RuntimeError("later")

    keep: set[asyncio.Task[None]] = set()
    with caplog.at_level(logging.ERROR, logger="orchestrator.runtime.eager"):
        start_now(fails_at_once(), keep=keep)
        start_now(fails_later(), keep=keep)
        gate.set_result(None)
        await asyncio.gather(*keep)
    assert [r.exc_info[1].args[0] for r in caplog.records if r.exc_info] == ["at once", "later"]


async def test_a_cancelled_carrier_closes_the_coroutine() -> None:
    closed: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            closed.append(True)

    keep: set[asyncio.Task[None]] = set()
    start_now(forever(), keep=keep)
    [task] = keep
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]
