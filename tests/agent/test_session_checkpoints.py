"""Session checkpoints on the agent: sent before the journal events that follow them, once per
change on a connection, again on a new one; seeded from `job.assign` without touching the outbox."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from agent import session_checkpoints as store
from agent.outbox import Outbox
from agent.runtime._checkpoints import CheckpointSender
from agent.runtime._sender import Sender
from shared.protocol import JobAssign, JournalBatch, SessionCheckpoint

COOKIE = "sid-0b1c2d-secret"
ASSIGNMENT = {"execution_id": "e1", "attempt": 1, "flow": {"name": "f"}, "inputs": {}}


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outbox]:
    monkeypatch.setenv("RPA_BROWSER_STATE_DIR", str(tmp_path / "state"))
    with Outbox(tmp_path / "outbox.db") as box:
        yield box


def checkpoint(url: str) -> dict[str, Any]:
    return {"session": "main", "urls": [url], "active": 0, "storage_state": {"cookies": [{"value": COOKIE}]}}


def step_done(outbox: Outbox, url: str, n: int) -> None:
    """What a browser step does: its checkpoint file first, then the engine journals its end."""
    store.write_checkpoint(store.checkpoint_path("e1", "browser:main"), "browser:main", checkpoint(url))
    journal = outbox.open_job("e1", 1, ASSIGNMENT, [])
    journal.append_many([("node.succeeded", f"step{n}", {"output": None, "port": "out"})])


async def flush(sender: Sender, outbox: Outbox) -> list[Any]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    sender.send = send
    for record in outbox.pending_jobs():
        await sender.flush(record)
    return sent


def _sender(outbox: Outbox) -> Sender:
    async def nowhere(_message: Any) -> None:
        raise AssertionError("replaced by flush")

    return Sender(outbox, nowhere, {}, lambda _e: None, {}, checkpoints=CheckpointSender())


async def test_a_checkpoint_goes_out_before_the_events_after_it_and_once_per_change(outbox: Outbox) -> None:
    sender = _sender(outbox)
    step_done(outbox, "http://erp/login", 1)
    first = await flush(sender, outbox)
    assert [type(m) for m in first] == [SessionCheckpoint, JournalBatch]
    assert first[0].session == "browser:main"
    assert first[0].state["urls"] == ["http://erp/login"]
    assert first[0].attempt == 1

    outbox.open_job("e1", 1, ASSIGNMENT, []).append_many([("node.started", "read", {"attempt": 1})])
    assert [type(m) for m in await flush(sender, outbox)] == [JournalBatch]  # unchanged: not again

    step_done(outbox, "http://erp/account", 2)
    again = await flush(sender, outbox)
    assert [type(m) for m in again] == [SessionCheckpoint, JournalBatch]
    assert again[0].state["urls"] == ["http://erp/account"]

    # A new connection sends it again: the broken one may have lost it.
    fresh = _sender(outbox)
    assert [type(m) for m in await flush(fresh, outbox)] == [SessionCheckpoint, JournalBatch]

    store.delete_checkpoint(store.checkpoint_path("e1", "browser:main"))  # the flow closed the session
    outbox.open_job("e1", 1, ASSIGNMENT, []).append_many([("node.succeeded", "close", {"output": True})])
    closed = await flush(sender, outbox)
    assert isinstance(closed[0], SessionCheckpoint)
    assert closed[0].state is None


async def test_an_orchestrator_before_version_4_is_sent_no_checkpoint(outbox: Outbox) -> None:
    async def nowhere(_message: Any) -> None:
        raise AssertionError("replaced by flush")

    step_done(outbox, "http://erp/login", 1)
    old = Sender(outbox, nowhere, {}, lambda _e: None, {})
    assert [type(m) for m in await flush(old, outbox)] == [JournalBatch]


def test_the_sessions_of_an_assignment_never_reach_the_outbox(outbox: Outbox, tmp_path: Path) -> None:
    from agent.runtime._jobs import _seed_sessions

    job = JobAssign(
        execution_id="e1",
        attempt=2,
        flow={"name": "f"},
        sessions={"browser:main": {"format": store.FORMAT, **checkpoint("http://erp/account")}},
    )
    outbox.open_job("e1", 2, job.model_dump(exclude={"secrets", "sessions"}), [])
    _seed_sessions(job)
    path = store.checkpoint_path("e1", "browser:main")
    saved = store.read_checkpoint(path)
    assert saved is not None
    assert saved["urls"] == ["http://erp/account"]
    with closing(sqlite3.connect(tmp_path / "outbox.db")) as db:
        rows = db.execute("SELECT * FROM jobs").fetchall()
    assert COOKIE not in repr(rows)
    # A local checkpoint is this agent's own, newer than the orchestrator's copy: kept.
    store.write_checkpoint(path, "browser:main", checkpoint("http://erp/local"))
    assert store.seed("e1", job.sessions) == 0
    assert store.read_checkpoint(path)["urls"] == ["http://erp/local"]  # type: ignore[index]
    store.delete_execution("e1")
    assert not path.exists()
    assert COOKIE.encode() not in b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
