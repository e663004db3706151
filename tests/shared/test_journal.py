"""Journals: numbering, atomic batches, durability across processes, and `fold`."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from shared.engine import Event, ExecutionState, MemoryJournal, NodeResult, SqliteJournal, fold

JournalFactory = Callable[[str], "MemoryJournal | SqliteJournal"]


@pytest.fixture(params=["memory", "sqlite"])
def make_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JournalFactory]:
    opened: list[MemoryJournal | SqliteJournal] = []

    def make(execution_id: str) -> MemoryJournal | SqliteJournal:
        journal: MemoryJournal | SqliteJournal
        if request.param == "memory":
            journal = MemoryJournal(execution_id)
        else:
            journal = SqliteJournal(tmp_path / "journal.db", execution_id)
        opened.append(journal)
        return journal

    yield make
    for journal in opened:
        journal.close()


def sql(path: Path, query: str) -> list[tuple[object, ...]]:
    """Run one statement on a separate connection (another process's view of the file)."""
    with closing(sqlite3.connect(path)) as db, db:
        return db.execute(query).fetchall()


def log(n: int) -> tuple[str, str, dict[str, int]]:
    return ("log", "", {"n": n})


# -- numbering and batches ----------------------------------------------------------------------


def test_seq_numbers_run_from_one_without_gaps_across_batches(make_journal: JournalFactory) -> None:
    journal = make_journal("e1")
    first = journal.append_many([log(0)])
    second = journal.append_many([log(1), log(2), log(3)])
    third = journal.append_many([log(4), log(5)])

    assert [e.seq for e in first + second + third] == [1, 2, 3, 4, 5, 6]
    assert [e.seq for e in journal.read()] == [1, 2, 3, 4, 5, 6]
    assert [e.data["n"] for e in journal.read()] == [0, 1, 2, 3, 4, 5]


def test_a_batch_shares_one_timestamp_and_read_returns_what_append_returned(
    make_journal: JournalFactory,
) -> None:
    journal = make_journal("e1")
    batch = journal.append_many(
        [
            ("node.started", "a[0]/b", {"attempt": 1, "type": "core.noop"}),
            ("node.succeeded", "a[0]/b", {"output": {"x": [1, "é"]}, "port": "out"}),
        ]
    )

    assert len({e.ts for e in batch}) == 1
    assert journal.read() == batch


def test_read_after_seq_returns_only_later_events(make_journal: JournalFactory) -> None:
    journal = make_journal("e1")
    journal.append_many([log(n) for n in range(5)])

    assert [e.seq for e in journal.read(after_seq=3)] == [4, 5]
    assert journal.read(after_seq=5) == []
    assert [e.seq for e in journal.read(after_seq=0)] == [1, 2, 3, 4, 5]


def test_listeners_get_each_batch_once_it_is_stored(make_journal: JournalFactory) -> None:
    journal = make_journal("e1")
    seen: list[list[int]] = []
    journal.subscribe(lambda batch: seen.append([e.seq for e in batch]))

    journal.append_many([log(0), log(1)])
    journal.append_many([log(2)])

    assert seen == [[1, 2], [3]]


@pytest.mark.parametrize(
    "kind",
    [
        "memory",
        "sqlite",
    ],
)
def test_an_empty_batch_stores_nothing(kind: str, tmp_path: Path) -> None:
    journal = MemoryJournal("e1") if kind == "memory" else SqliteJournal(tmp_path / "j.db", "e1")
    journal.append_many([log(0)])

    assert journal.append_many([]) == []
    assert [e.seq for e in journal.append_many([log(1)])] == [2]
    journal.close()


def test_a_memory_batch_with_a_bad_event_stores_nothing() -> None:
    journal = MemoryJournal("e1")
    journal.append_many([log(0)])
    seen: list[object] = []
    journal.subscribe(seen.append)

    with pytest.raises(ValueError, match="unpack"):
        journal.append_many([log(1), ("log", "")])  # type: ignore[list-item]

    assert [e.data["n"] for e in journal.read()] == [0]
    assert seen == []
    assert [e.seq for e in journal.append_many([log(2)])] == [2]


def test_a_sqlite_batch_whose_second_row_breaks_a_constraint_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = SqliteJournal(path, "e1")
    journal.append_many([log(0)])
    # Another writer took seq 3: the second row of the next batch (seqs 2, 3, 4) collides.
    sql(path, "INSERT INTO events VALUES ('e1', 3, 'log', '', '{\"n\": -1}', 0)")
    seen: list[object] = []
    journal.subscribe(seen.append)

    with pytest.raises(sqlite3.IntegrityError):
        journal.append_many([log(1), log(2), log(3)])

    assert [(e.seq, e.data["n"]) for e in journal.read()] == [(1, 0), (3, -1)]
    assert seen == []
    journal.close()
    # Nothing of the batch reached the file either (not even the first row, seq 2).
    assert sql(path, "SELECT seq FROM events WHERE execution_id = 'e1' ORDER BY seq") == [(1,), (3,)]


# -- SQLite files -------------------------------------------------------------------------------


def test_reopening_a_sqlite_journal_continues_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    first = SqliteJournal(path, "e1")
    first.append_many([log(0), log(1)])
    first.close()

    reopened = SqliteJournal(path, "e1")
    assert [e.data["n"] for e in reopened.read()] == [0, 1]
    assert [e.seq for e in reopened.append_many([log(2)])] == [3]
    assert [e.seq for e in reopened.read()] == [1, 2, 3]
    reopened.close()


def test_two_executions_in_one_file_are_numbered_and_read_independently(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    a, b = SqliteJournal(path, "exec-a"), SqliteJournal(path, "exec-b")
    a.append_many([log(0), log(1)])
    b.append_many([log(10)])
    a.append_many([log(2)])
    b.append_many([log(11), log(12)])

    assert [(e.seq, e.data["n"]) for e in a.read()] == [(1, 0), (2, 1), (3, 2)]
    assert [(e.seq, e.data["n"]) for e in b.read()] == [(1, 10), (2, 11), (3, 12)]
    a.close()
    b.close()


def test_executions_lists_each_execution_oldest_first_with_whether_it_finished(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    assert SqliteJournal.executions(path) == []
    assert not path.exists()

    old, new = SqliteJournal(path, "old"), SqliteJournal(path, "new")
    old.append_many([("execution.started", "", {"execution_id": "old"})])
    time.sleep(0.002)  # distinct first timestamps, so "oldest first" is well defined
    new.append_many([("execution.started", "", {"execution_id": "new"})])
    old.append_many([("execution.finished", "", {"status": "succeeded", "outputs": {}, "error": None})])

    assert SqliteJournal.executions(path) == [("old", True), ("new", False)]
    old.close()
    new.close()


def test_a_sqlite_journal_uses_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = SqliteJournal(path, "e1")
    journal.append_many([log(0)])

    assert sql(path, "PRAGMA journal_mode") == [("wal",)]
    journal.close()


def test_sqlite_journal_rejects_an_unknown_synchronous_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteJournal(tmp_path / "journal.db", "e1", synchronous="SOMETIMES")


def test_values_round_trip_as_json(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.db", "e1")
    data = {"output": {"text": "ünï ✓", "list": [1, 2.5, None, True], "nested": {"k": [{}]}}, "port": "out"}
    journal.append_many([("node.succeeded", "a", data)])

    assert journal.read()[0].data == data
    journal.close()


WRITER = textwrap.dedent(
    """
    import sys
    from shared.engine import SqliteJournal

    journal = SqliteJournal(sys.argv[1], "killed")
    batch = 0
    while True:
        size = 1 + batch % 3
        journal.append_many([("log", "", {"batch": batch, "i": i, "size": size}) for i in range(size)])
        batch += 1
        if batch == 200:
            print("ready", flush=True)
    """
)


def test_a_journal_written_by_a_killed_process_is_whole_and_gapless(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True) as writer:
        assert writer.stdout is not None
        try:
            assert writer.stdout.readline().strip() == "ready"
        finally:
            writer.send_signal(signal.SIGKILL)  # mid-loop: most likely mid-batch
            writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL

    journal = SqliteJournal(path, "killed")
    events = journal.read()
    assert len(events) >= 200
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # Batches are whole: every batch that is there has all its events, in order.
    batches: dict[int, list[int]] = {}
    for e in events:
        batches.setdefault(e.data["batch"], []).append(e.data["i"])
    assert sorted(batches) == list(range(len(batches)))
    for number, items in batches.items():
        assert items == list(range(1 + number % 3)), f"batch {number} is partial: {items}"
    # And the next process carries on where the killed one stopped.
    assert journal.append_many([log(0)])[0].seq == len(events) + 1
    journal.close()
    assert sql(path, "PRAGMA integrity_check") == [("ok",)]


# -- fold ---------------------------------------------------------------------------------------


def events_of(*specs: tuple[str, str, Mapping[str, Any]]) -> list[Event]:
    return [Event(seq, kind, path, dict(data), 1000.0 + seq) for seq, (kind, path, data) in enumerate(specs, 1)]


ERROR = {"kind": "business", "message": "boom", "node": "bad"}


def test_fold_of_nothing_is_a_new_execution() -> None:
    state = fold([])
    assert state.is_new
    assert state == ExecutionState()


def test_fold_rebuilds_results_attempts_loops_and_variables() -> None:
    events = events_of(
        (
            "execution.started",
            "",
            {"execution_id": "e9", "flow": "f", "inputs": {"n": 1}, "variables": {"a": 1, "b": "x"}},
        ),
        ("node.started", "flaky", {"attempt": 1, "type": "test.count"}),
        ("node.failed", "flaky", {"attempt": 1, "error": ERROR, "will_retry": True}),
        ("node.started", "flaky", {"attempt": 2, "type": "test.count"}),
        ("variable.set", "flaky", {"scope": "", "name": "a", "value": 5}),
        ("node.succeeded", "flaky", {"output": {"ok": True}, "port": "out"}),
        ("node.started", "route", {"attempt": 1, "type": "control.if"}),
        ("branch.taken", "route", {"port": "false"}),
        ("node.succeeded", "route", {"output": False, "port": "false"}),
        ("node.skipped", "not_taken", {"reason": "branch"}),
        ("node.started", "loop", {"attempt": 1, "type": "control.foreach", "items": ["p", "q", "r"]}),
        ("iteration.started", "loop", {"index": 0}),
        ("node.started", "loop[0]/body", {"attempt": 1, "type": "core.noop"}),
        ("node.succeeded", "loop[0]/body", {"output": "p!", "port": "out"}),
        ("iteration.finished", "loop", {"index": 0, "result": {"body": "p!"}}),
        ("iteration.started", "loop", {"index": 1}),
        ("node.started", "loop[1]/body", {"attempt": 1, "type": "core.noop"}),
        ("node.started", "call", {"attempt": 1, "type": "flow.call"}),
        ("variable.set", "call", {"scope": "call", "name": "inner", "value": [1]}),
        (
            "node.failed",
            "tolerant",
            {"attempt": 1, "error": ERROR, "will_retry": False, "handled": "continue", "output": ERROR, "port": "out"},
        ),
        ("node.skipped", "skippable", {"reason": "error", "error": ERROR, "port": "out"}),
        ("node.failed", "bad", {"attempt": 3, "error": ERROR, "will_retry": False}),
        ("log", "loop[1]/body", {"level": "info", "message": "not state"}),
    )

    state = fold(events)

    assert not state.is_new
    assert state.execution_id == "e9"
    assert state.started is not None
    assert state.started["inputs"] == {"n": 1}
    assert state.finished is None
    assert state.last_seq == len(events)
    assert state.results == {
        "flaky": NodeResult("succeeded", {"ok": True}, "out"),
        "route": NodeResult("succeeded", False, "false"),
        "not_taken": NodeResult("skipped", None, None),
        "loop[0]/body": NodeResult("succeeded", "p!", "out"),
        "tolerant": NodeResult("failed", ERROR, "out", ERROR),
        "skippable": NodeResult("skipped", None, "out", ERROR),
        "bad": NodeResult("failed", None, None, ERROR),
    }
    # Started without an end: not a result, so it runs again on resume.
    assert "loop[1]/body" not in state.results
    assert "loop" not in state.results
    assert state.attempts == {"flaky": 2, "route": 1, "loop": 1, "loop[0]/body": 1, "loop[1]/body": 1, "call": 1}
    assert state.failures == {"flaky": 1, "tolerant": 1, "bad": 1}
    assert state.loop_items == {"loop": ["p", "q", "r"]}
    assert state.iterations_started == {"loop": {0, 1}}
    assert state.iteration_results == {"loop": {0: {"body": "p!"}}}
    assert state.variables == {"": {"a": 5, "b": "x"}, "call": {"inner": [1]}}


def test_fold_keeps_the_recorded_end_of_an_execution() -> None:
    finished = {"status": "failed", "outputs": {}, "error": ERROR}
    state = fold(
        events_of(
            ("execution.started", "", {"execution_id": "e9", "flow": "f", "inputs": {}, "variables": {}}),
            ("node.started", "bad", {"attempt": 1, "type": "core.fail"}),
            ("node.failed", "bad", {"attempt": 1, "error": ERROR, "will_retry": False}),
            ("execution.finished", "", finished),
        )
    )
    assert state.finished == finished


def test_fold_resolves_artifact_references_with_the_loader() -> None:
    stored = {"out.json": {"big": "output"}, "items.json": [1, 2, 3], "it.json": "result", "var.json": "v"}

    def load(reference: object) -> object:
        assert isinstance(reference, dict)
        return stored[reference["$artifact"]]

    events = events_of(
        ("execution.started", "", {"execution_id": "e9", "flow": "f", "inputs": {}, "variables": {}}),
        ("node.succeeded", "a", {"output": {"$artifact": "out.json", "size": 99}, "port": "out"}),
        ("node.started", "loop", {"attempt": 1, "type": "control.foreach", "items": {"$artifact": "items.json"}}),
        ("iteration.finished", "loop", {"index": 0, "result": {"$artifact": "it.json"}}),
        ("variable.set", "a", {"scope": "", "name": "v", "value": {"$artifact": "var.json"}}),
    )

    resolved = fold(events, load)
    assert resolved.results["a"].output == {"big": "output"}
    assert resolved.loop_items["loop"] == [1, 2, 3]
    assert resolved.iteration_results["loop"] == {0: "result"}
    assert resolved.variables[""] == {"v": "v"}
    # Without a loader the references stay as they are.
    assert fold(events).results["a"].output == {"$artifact": "out.json", "size": 99}
