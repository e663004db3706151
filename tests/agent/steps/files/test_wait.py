"""`files.wait_for_file`: a file written by someone else is returned once it stops changing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.steps import files
from shared.errors import StepError
from shared.steps import StepEnvironment


async def test_waits_until_a_file_being_written_is_stable(env: StepEnvironment, tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    started = threading.Event()
    finished = threading.Event()
    pieces = 8

    def writer() -> None:
        started.wait(5)
        with target.open("wb") as handle:
            for _ in range(pieces):
                handle.write(b"row,1\n" * 1000)
                handle.flush()
                # Not a speed assumption: the step needs stable_s without change, so the
                # writer only has to pause for less than that between pieces.
                finished.wait(0.1)
        finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    started.set()
    try:
        row = await env.run(
            files.wait_for_file, {"path": str(target), "stable_s": 0.6, "poll_s": 0.05, "timeout_s": 30}
        )
    finally:
        thread.join(10)
    assert finished.is_set()
    assert row["size"] == pieces * 6000 == target.stat().st_size
    assert (row["name"], row["type"]) == ("export.csv", "file")


async def test_a_file_that_never_appears_times_out(env: StepEnvironment, tmp_path: Path) -> None:
    with pytest.raises(StepError, match="did not appear") as caught:
        await env.run(files.wait_for_file, {"path": str(tmp_path / "never.csv"), "timeout_s": 0.3, "poll_s": 0.05})
    assert (caught.value.kind, caught.value.retryable) == ("timeout", True)


async def test_cancelling_stops_the_wait(env: StepEnvironment, tmp_path: Path) -> None:
    env.cancel()
    with pytest.raises(StepError) as caught:
        await env.run(files.wait_for_file, {"path": str(tmp_path / "never.csv"), "timeout_s": 600})
    assert caught.value.kind == "cancelled"
