"""The outbox keeps its jobs' records in memory: after every kind of write, after a write the file
refused, and after a restart, what it says equals what its file holds."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent.outbox import JobRecord, Outbox, OutboxWriteError
from agent.runtime import AgentConfig, AgentRuntime
from agent.runtime._assets import flow_dir_of
from agent.runtime._jobs import JobRunner
from shared.engine import Event
from shared.protocol import JobAccepted, JobAssign
from shared.steps import StepRegistry
from tests.agent.memory_orchestrator import MemoryOrchestrator, until, wait_flow

ASSIGNMENT = {"execution_id": "e1", "attempt": 1, "flow": {"name": "f"}, "inputs": {"x": 1}}


def log(n: int) -> tuple[str, str, dict[str, Any]]:
    return ("log", "", {"n": n})


def seed_of(count: int) -> list[Event]:
    return [Event(seq, "log", "", {"n": seq}, 1000.0 + seq) for seq in range(1, count + 1)]


def in_file(path: Path) -> dict[str, JobRecord]:
    """The records as a fresh outbox reads them from the file (what a restarted agent sees)."""
    with Outbox(path) as fresh:
        return {record.execution_id: record for record in fresh.pending_jobs()}


def in_memory(box: Outbox) -> dict[str, JobRecord]:
    return {record.execution_id: record for record in box.pending_jobs()}


@contextmanager
def read_only(box: Outbox) -> Iterator[None]:
    """The outbox's own connection swapped for a read-only one: every write fails in SQLite."""
    with box._lock:
        writable = box._db
        box._db = sqlite3.connect(f"file:{box.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    try:
        yield
    finally:
        with box._lock:
            box._db.close()
            box._db = writable


def test_memory_and_file_agree_after_every_kind_of_write(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        steps: list[Callable[[], object]] = [
            lambda: box.open_job("e1", 1, ASSIGNMENT, seed_of(2)),
            lambda: box.open_job("e2", 1, {**ASSIGNMENT, "execution_id": "e2", "when": 1.5}, []),
            lambda: box.open_job("e1", 1, ASSIGNMENT, []).append_many([log(3), log(4)]),
            lambda: box.ack("e1", 3),
            lambda: box.ack("e1", 99),  # clamped to the last event
            lambda: box.open_job("e2", 1, ASSIGNMENT, []).append_many([log(1)]),
            lambda: box.reattempt("e2", 2),
            lambda: box.open_job("e1", 1, ASSIGNMENT, seed_of(6)),  # same attempt: the seed adds 5 and 6
            lambda: box.update_assignment("e2", {"report": {"state": "recorded"}, "secrets": {"k": "v"}}),
            lambda: box.open_job("e2", 3, ASSIGNMENT, []),  # another attempt: its events extend the empty seed
            lambda: box.open_job("e2", 3, ASSIGNMENT, []).append_many([log(1), log(2)]),
            lambda: box.open_job("e2", 4, ASSIGNMENT, seed_of(1)),  # and this seed
            lambda: box.open_job("e3", 1, ASSIGNMENT, seed_of(2)),
            lambda: box.open_job("e3", 2, ASSIGNMENT, [Event(1, "other", "", {}, 1.0)]),  # not extended: replaced
            lambda: box.mark_finished("e3"),
            lambda: box.forget("e3"),
            lambda: box.mark_finished("e1"),
            lambda: box.forget("e1"),
        ]
        for number, step in enumerate(steps, 1):
            step()
            assert in_memory(box) == in_file(path), f"after step {number}"

    assert in_file(path) == {
        "e2": JobRecord("e2", 4, last_seq=3, acked_seq=1, finished=False, assignment=ASSIGNMENT),
    }


def test_a_write_the_file_refuses_changes_nothing_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        journal = box.open_job("e1", 1, ASSIGNMENT, seed_of(2))
        journal.append_many([log(3)])
        before = in_memory(box)
        with read_only(box):
            refused: list[Callable[[], object]] = [
                lambda: journal.append_many([log(4)]),
                lambda: box.ack("e1", 3),
                lambda: box.mark_finished("e1"),
                lambda: box.reattempt("e1", 2),
                lambda: box.update_assignment("e1", {"report": {}}),
                lambda: box.open_job("e2", 1, ASSIGNMENT, []),
                lambda: box.forget("e1", force=True),
            ]
            for step in refused:
                with pytest.raises(OutboxWriteError):
                    step()
                assert in_memory(box) == before
        assert in_file(path) == before
        # Writable again: the next write numbers on from what the file holds.
        assert [e.seq for e in journal.append_many([log(4)])] == [4]
        assert in_memory(box) == in_file(path)


def test_a_restarted_outbox_reads_its_records_back_in_update_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        for name in ("a", "b", "c"):
            box.open_job(name, 1, {**ASSIGNMENT, "execution_id": name}, seed_of(1))
            time.sleep(0.002)  # distinct update times
        box.open_job("a", 1, ASSIGNMENT, []).append_many([log(2)])  # "a" is now the latest update
        before = box.pending_jobs()

    with Outbox(path) as restarted:
        assert [r.execution_id for r in before] == ["b", "c", "a"]
        assert restarted.pending_jobs() == before
        assert restarted.unacked("a") == restarted.events("a", 1)
        assert [e.seq for e in restarted.open_job("a", 1, ASSIGNMENT, []).append_many([log(3)])] == [3]


def test_an_ack_that_moves_nothing_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        box.open_job("e1", 1, ASSIGNMENT, []).append_many([log(1), log(2)])
        assert box.ack("e1", 2) == 2

        def stored() -> list[tuple[Any, ...]]:
            with closing(sqlite3.connect(path)) as db:
                return db.execute("SELECT acked_seq, updated_at FROM jobs").fetchall()

        first = stored()
        assert box.ack("e1", 2) == 2  # the answer to a job.finished repeats the last ack
        assert box.ack("e1", 1) == 2
        assert stored() == first
        assert box.ack("missing", 5) is None


async def test_a_job_without_assets_makes_no_folder(tmp_path: Path) -> None:
    config = AgentConfig(url="http://127.0.0.1:9", key="rpa_ak_test", name="runner", home=tmp_path / "home")
    config.home.mkdir()
    job = JobAssign(execution_id="plain", attempt=1, flow=wait_flow(1))
    with Outbox(tmp_path / "outbox.db") as box:
        runner = JobRunner(config, StepRegistry.default(), box, lambda: None, lambda *_: None, lambda: None)
        assert isinstance(runner.take(job), JobAccepted)
        await asyncio.wait_for(asyncio.gather(*runner.tasks.values()), 30)
        finished = box.events("plain")[-1].data
        record = box.job("plain")

    assert finished["status"] == "succeeded", finished
    assert record is not None
    assert record.finished
    assert not (config.home / "flows").exists()
    assert not flow_dir_of(config.home, "plain").exists()


async def test_a_connection_keeps_nothing_of_the_jobs_it_forgot(tmp_path: Path) -> None:
    server = MemoryOrchestrator()
    runtime = AgentRuntime(
        AgentConfig(url="http://memory", key="rpa_ak_test", name="laptop", home=tmp_path / "agent", max_jobs=3),
        connector=server.connector,
    )
    runtime.start()
    try:
        for number in range(3):
            await server.assign(JobAssign(execution_id=f"e{number}", attempt=1, flow=wait_flow(1)))
        await until(lambda: len(server.finished) == 3, what="three job.finished")
        await until(lambda: not runtime.outbox.pending_jobs(), what="the acknowledged jobs to be forgotten")
        sender = runtime._sender
        assert sender is not None
        assert sender.checkpoints is not None
        assert not sender.sent
        assert not sender.finish_sent
        assert not sender.ends
        assert not sender.checkpoints.sent
        assert all(server.finished[f"e{n}"].status == "succeeded" for n in range(3))
        assert all(server.events[f"e{n}"] == list(range(1, server.finished[f"e{n}"].last_seq + 1)) for n in range(3))
    finally:
        await runtime.stop()
