"""The outbox: the agent's local journal and the queue of events the orchestrator has not acked."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from agent.outbox import JobRecord, Outbox, OutboxError, StaleJournalError
from shared.engine import Engine, Event, MemoryJournal, SqliteJournal
from shared.flow import load_flow


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.db") as box:
        yield box


def log(n: int) -> tuple[str, str, dict[str, Any]]:
    return ("log", "", {"level": "info", "message": f"line {n}", "n": n})


def seed_of(count: int) -> list[Event]:
    return [Event(seq, "log", "", {"n": seq}, 1000.0 + seq) for seq in range(1, count + 1)]


def sql(path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """One statement on a separate connection (another process's view of the file)."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute(query, params).fetchall()


ASSIGNMENT = {"execution_id": "e1", "attempt": 1, "flow": {"name": "f"}, "inputs": {"x": 1}}


# -- open_job and the seed ------------------------------------------------------------------------


def test_seed_is_stored_as_acknowledged_and_appends_continue_after_it(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, seed_of(3))

    assert [e.seq for e in journal.read()] == [1, 2, 3]
    assert outbox.unacked("e1") == []
    batch = journal.append_many([log(4), log(5)])

    assert [e.seq for e in batch] == [4, 5]
    assert outbox.unacked("e1") == batch
    assert outbox.job("e1") == JobRecord("e1", 1, last_seq=5, acked_seq=3, finished=False, assignment=ASSIGNMENT)


def test_secrets_of_the_assignment_never_reach_the_file(tmp_path: Path) -> None:
    secret = "s3cr3t-value-that-must-not-be-stored"
    with Outbox(tmp_path / "outbox.db") as box:
        box.open_job("e1", 1, {**ASSIGNMENT, "secrets": {"db_password": secret}}, [])
        record = box.job("e1")
        assert record is not None
        assert "secrets" not in record.assignment
        assert record.assignment == ASSIGNMENT

    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("outbox.db"))
    assert b"db_password" not in stored
    assert secret.encode() not in stored


def test_the_outbox_file_is_private(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        with Outbox(tmp_path / "outbox.db") as box:
            box.open_job("e1", 1, ASSIGNMENT, []).append_many([log(1)])
            files = sorted(p.name for p in tmp_path.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    finally:
        os.umask(previous)

    assert files == ["outbox.db", "outbox.db-shm", "outbox.db-wal"]
    assert modes == dict.fromkeys(files, 0o600)


def test_same_attempt_again_keeps_local_events_and_acks_what_the_seed_holds(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        journal = box.open_job("e1", 2, ASSIGNMENT, seed_of(2))
        journal.append_many([log(3), log(4), log(5)])

    with Outbox(path) as box:  # the agent restarted and is assigned the same attempt again
        journal = box.open_job("e1", 2, {**ASSIGNMENT, "inputs": {"x": 99}}, seed_of(4))

        assert [e.seq for e in journal.read()] == [1, 2, 3, 4, 5]
        assert [e.data["n"] for e in journal.read()[2:]] == [3, 4, 5]  # ours, not the seed's
        assert [e.seq for e in box.unacked("e1")] == [5]
        record = box.job("e1")
        assert record is not None
        assert record.assignment["inputs"] == {"x": 1}


def test_same_attempt_with_a_seed_ahead_of_the_local_events_takes_the_seed(outbox: Outbox) -> None:
    outbox.open_job("e1", 1, ASSIGNMENT, []).append_many([log(1)])

    journal = outbox.open_job("e1", 1, ASSIGNMENT, seed_of(3))  # e.g. the file was restored from a backup

    assert [e.data["n"] for e in journal.read()] == [1, 2, 3]
    assert outbox.unacked("e1") == []
    assert journal.append_many([log(4)])[0].seq == 4  # no seq the orchestrator already holds is reused


def test_another_attempt_replaces_the_events_and_the_old_journal_stops_writing(outbox: Outbox) -> None:
    old = outbox.open_job("e1", 1, ASSIGNMENT, [])
    old.append_many([log(n) for n in range(1, 6)])
    outbox.mark_finished("e1")

    new = outbox.open_job("e1", 2, {**ASSIGNMENT, "attempt": 2}, seed_of(2))

    assert [e.data for e in new.read()] == [{"n": 1}, {"n": 2}]
    assert outbox.job("e1") == JobRecord("e1", 2, 2, 2, False, {**ASSIGNMENT, "attempt": 2})
    with pytest.raises(StaleJournalError, match="reassigned to attempt 2"):
        old.append_many([log(99)])
    assert outbox.last_seq("e1") == 2


def test_a_reclaimed_job_goes_on_under_its_new_attempt_with_its_events_and_journal(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    journal.append_many([log(n) for n in range(1, 4)])
    outbox.ack("e1", 2)

    assert outbox.reattempt("e1", 2)

    assert outbox.job("e1") == JobRecord("e1", 2, 3, 2, False, ASSIGNMENT)
    assert [e.seq for e in outbox.unacked("e1")] == [3]  # what the orchestrator never got is still sent
    assert [e.seq for e in journal.append_many([log(4)])] == [4]  # the engine's journal writes on
    assert outbox.reattempt("e1", 5)  # requeued and reclaimed again
    assert [e.seq for e in journal.append_many([log(5)])] == [5]
    assert [e.data["n"] for e in outbox.events("e1")] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="runs attempt 5; it cannot go on under 5"):
        outbox.reattempt("e1", 5)
    assert not outbox.reattempt("nope", 2)


def test_a_journal_of_a_reclaimed_job_stops_writing_once_the_job_is_forgotten_or_reassigned(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    outbox.reattempt("e1", 2)
    outbox.forget("e1", force=True)
    with pytest.raises(StaleJournalError, match="forgotten"):
        journal.append_many([log(1)])
    outbox.open_job("e1", 2, ASSIGNMENT, [])  # the same attempt again, from a new assignment
    with pytest.raises(StaleJournalError, match="reassigned to attempt 2"):
        journal.append_many([log(1)])


def test_seed_with_sequence_numbers_out_of_order_is_refused(outbox: Outbox) -> None:
    events = seed_of(3)
    with pytest.raises(ValueError, match="increasing"):
        outbox.open_job("e1", 1, ASSIGNMENT, [events[0], events[2], events[1]])
    assert outbox.job("e1") is None


# -- acks ----------------------------------------------------------------------------------------


def test_acks_only_move_forward_and_are_clamped_to_the_last_event(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    journal.append_many([log(n) for n in range(1, 11)])

    assert outbox.ack("e1", 6) == 6
    assert outbox.ack("e1", 4) == 6  # a late, older ack
    assert [e.seq for e in outbox.unacked("e1")] == [7, 8, 9, 10]
    assert outbox.ack("e1", 1_000) == 10
    assert outbox.unacked("e1") == []

    journal.append_many([log(11)])  # the clamp did not pre-acknowledge future events
    assert [e.seq for e in outbox.unacked("e1")] == [11]


def test_ack_of_a_forgotten_job_is_ignored(outbox: Outbox) -> None:
    assert outbox.ack("nobody", 5) is None
    assert outbox.unacked("nobody") == []
    assert outbox.last_seq("nobody") == 0


def test_unacked_is_paged_in_order(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    journal.append_many([log(n) for n in range(1, 8)])

    assert [e.seq for e in outbox.unacked("e1", limit=3)] == [1, 2, 3]
    outbox.ack("e1", 3)
    assert [e.seq for e in outbox.unacked("e1", limit=3)] == [4, 5, 6]
    with pytest.raises(ValueError, match="limit"):
        outbox.unacked("e1", limit=0)


def test_events_reads_acknowledged_and_unacknowledged_alike(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, seed_of(2))
    journal.append_many([log(3), log(4), log(5)])
    outbox.ack("e1", 3)

    assert [e.seq for e in outbox.events("e1")] == [1, 2, 3, 4, 5]
    assert [e.seq for e in outbox.events("e1", after_seq=2, limit=2)] == [3, 4]
    assert outbox.events("e1") == journal.read()
    assert outbox.events("nobody") == []


# -- job life cycle ------------------------------------------------------------------------------


def test_pending_jobs_are_every_job_held_until_its_end_is_confirmed(outbox: Outbox) -> None:
    running = outbox.open_job("running", 1, {}, [])
    running.append_many([log(1)])
    outbox.ack("running", 1)
    waiting = outbox.open_job("finished-unacked", 3, {}, seed_of(1))
    waiting.append_many([log(2)])
    outbox.mark_finished("finished-unacked")
    done = outbox.open_job("finished-acked", 1, {}, [])
    done.append_many([log(1)])
    outbox.mark_finished("finished-acked")
    outbox.ack("finished-acked", 1)

    pending = {job.execution_id: job for job in outbox.pending_jobs()}

    # A job whose events were all acknowledged before the engine returned still owes its
    # `job.finished`: it is forgotten only once the orchestrator acknowledges that end.
    assert set(pending) == {"running", "finished-unacked", "finished-acked"}
    assert pending["running"] == JobRecord("running", 1, 1, 1, False, {})
    assert pending["finished-unacked"] == JobRecord("finished-unacked", 3, 2, 1, True, {})
    assert not pending["finished-unacked"].fully_acked
    assert pending["finished-acked"].fully_acked
    outbox.forget("finished-acked")
    assert {job.execution_id for job in outbox.pending_jobs()} == {"running", "finished-unacked"}


def test_forget_refuses_to_drop_unacknowledged_events_unless_forced(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    journal.append_many([log(1), log(2)])

    with pytest.raises(OutboxError, match="2 unacknowledged"):
        outbox.forget("e1")
    assert outbox.last_seq("e1") == 2

    outbox.forget("e1", force=True)  # the execution moved to another agent
    assert outbox.job("e1") is None
    assert outbox.last_seq("e1") == 0
    with pytest.raises(StaleJournalError, match="forgotten"):
        journal.append_many([log(3)])


def test_forget_after_finish_and_full_ack_removes_everything(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        box.open_job("e1", 1, ASSIGNMENT, []).append_many([log(1)])
        box.mark_finished("e1")
        box.ack("e1", 1)
        box.forget("e1")
        box.forget("e1")  # twice is harmless

    assert sql(path, "SELECT COUNT(*) FROM events") == [(0,)]
    assert sql(path, "SELECT COUNT(*) FROM jobs") == [(0,)]


def test_mark_finished_of_an_unknown_job_is_an_error(outbox: Outbox) -> None:
    with pytest.raises(KeyError):
        outbox.mark_finished("nobody")


def test_closed_journal_refuses_appends(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    journal.close()
    with pytest.raises(OutboxError, match="closed"):
        journal.append_many([log(1)])


# -- batches, listeners, threads -----------------------------------------------------------------


def test_a_batch_is_one_transaction(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    journal.append_many([log(1)])
    circular: dict[str, Any] = {}
    circular["self"] = circular

    with pytest.raises(ValueError, match=r"[Cc]ircular"):
        journal.append_many([log(2), ("log", "", circular)])

    assert [e.seq for e in journal.read()] == [1]
    assert [e.seq for e in journal.append_many([log(2)])] == [2]


def test_listeners_see_a_batch_only_once_it_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    seen_on_disk: list[list[int]] = []
    with Outbox(path) as box:
        journal = box.open_job("e1", 1, ASSIGNMENT, [])
        journal.subscribe(
            lambda batch: seen_on_disk.append(
                [row[0] for row in sql(path, "SELECT seq FROM events WHERE seq >= ? ORDER BY seq", batch[0].seq)]
            )
        )
        journal.append_many([log(1), log(2)])
        journal.append_many([log(3)])

    assert seen_on_disk == [[1, 2], [3]]


def test_concurrent_appends_and_acks_keep_numbering_gapless(outbox: Outbox) -> None:
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    other = outbox.open_job("e2", 1, ASSIGNMENT, [])
    errors: list[BaseException] = []

    def work(target: Any, tag: int) -> None:
        try:
            for _ in range(50):
                batch = target.append_many([log(tag), log(tag)])
                outbox.ack(target.execution_id, batch[0].seq - 1)
                outbox.unacked(target.execution_id, limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(j, n)) for n, j in enumerate([journal, journal, journal, other])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert [e.seq for e in journal.read()] == list(range(1, 301))
    assert [e.seq for e in other.read()] == list(range(1, 101))


# -- one file, the engine's journal --------------------------------------------------------------


def test_the_outbox_file_is_a_journal_the_engine_reads(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        written = box.open_job("e1", 1, ASSIGNMENT, seed_of(2)).append_many([log(3), ("node.started", "a", {})])
        written_all = seed_of(2) + written

    engine_view = SqliteJournal(path, "e1")
    try:
        assert engine_view.read() == written_all
    finally:
        engine_view.close()


FLOW = {
    "schema": "rpa.flow/1",
    "name": "two-steps",
    "nodes": [
        {"id": "first", "type": "core.noop", "params": {"value": 1}},
        {"id": "second", "type": "core.noop", "params": {"value": 2}},
    ],
    "edges": [{"from": "first", "to": "second"}],
}


async def test_engine_resumes_from_a_seed_and_journals_into_the_outbox(outbox: Outbox, tmp_path: Path) -> None:
    flow = load_flow(FLOW)
    first_run = MemoryJournal("e1")
    await Engine(artifacts_dir=tmp_path).run(flow, journal=first_run)
    events = first_run.read()
    cut = next(e.seq for e in events if e.type == "node.succeeded" and e.path == "first")
    seed = events[:cut]  # what the orchestrator had when the first agent died

    journal = outbox.open_job("e1", 2, ASSIGNMENT, seed)
    result = await Engine(artifacts_dir=tmp_path).run(flow, journal=journal)

    assert result.status == "succeeded"
    sent = outbox.unacked("e1")
    assert sent[0].seq == cut + 1
    started = [e.path for e in journal.read() if e.type == "node.started"]
    assert started == ["first", "second"]  # "first" once, from the seed; never again
    assert sent[-1].type == "execution.finished"


# -- durability ----------------------------------------------------------------------------------


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from agent.outbox import Outbox

    box = Outbox(sys.argv[1])
    journal = box.open_job("killed", 1, {"secrets": {"k": "v"}}, [])
    count = 0
    for batch in range(int(sys.argv[2])):
        stored = journal.append_many([("log", "", {"batch": batch, "i": i}) for i in range(1 + batch % 3)])
        count += len(stored)
    print(count, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_events_survive_sigkill_right_after_append(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), "60"], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == -signal.SIGKILL, done.stderr
    count = int(done.stdout.strip())
    assert count == sum(1 + b % 3 for b in range(60))
    with Outbox(path) as box:
        unacked: Sequence[Event] = box.unacked("killed", limit=10_000)
        assert [e.seq for e in unacked] == list(range(1, count + 1))
        assert [job.execution_id for job in box.pending_jobs()] == ["killed"]
    assert sql(path, "PRAGMA integrity_check") == [("ok",)]


def test_another_attempt_whose_seed_the_local_events_extend_keeps_them(outbox: Outbox) -> None:
    """A run that went on (here: ended) while the orchestrator heard nothing, given back to this
    agent under a new attempt with the journal the orchestrator holds: merged, never dropped."""
    old = outbox.open_job("e1", 1, ASSIGNMENT, [])
    written = old.append_many([log(n) for n in range(1, 6)])
    outbox.mark_finished("e1")
    seed = written[:2]  # what the orchestrator stored before it lost the agent

    new = outbox.open_job("e1", 2, {**ASSIGNMENT, "attempt": 2}, seed)

    assert [e.data["n"] for e in new.read()] == [1, 2, 3, 4, 5]
    assert outbox.job("e1") == JobRecord("e1", 2, 5, 2, True, {**ASSIGNMENT, "attempt": 2})
    assert [e.seq for e in outbox.unacked("e1")] == [3, 4, 5]  # they go out under attempt 2
    other = outbox.open_job("e1", 3, {**ASSIGNMENT, "attempt": 3}, seed_of(2))  # a seed that differs
    assert [e.data for e in other.read()] == [{"n": 1}, {"n": 2}]
