"""The monitor's logic without Qt: filters, the row store's operations, paging and refresh,
the journal folded into node states, and the actions a state allows."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from studio.views.monitor.model import (
    ACTIONS,
    ExecutionFilter,
    ExecutionRows,
    JournalFold,
    LiveExecutions,
    RowOp,
    allowed,
    describe,
    node_id,
    on_canvas,
)

ROOT = Path(__file__).resolve().parents[4]
T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def row(n: int, state: str = "succeeded", **extra: Any) -> dict[str, Any]:
    """Execution number `n` (a larger n is newer)."""
    return {
        "id": str(uuid.UUID(int=n)),
        "workflow_id": "w1",
        "workflow_name": "Invoices",
        "version_number": 1,
        "state": state,
        "trigger": {"type": "manual"},
        "agent_id": "a1",
        "created_at": (T0 + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        **extra,
    }


class Recorder:
    def __init__(self, rows: ExecutionRows) -> None:
        self.rows = rows
        self.seen: list[tuple[str, RowOp, int]] = []

    def before(self, op: RowOp) -> None:
        self.seen.append(("before", op, len(self.rows)))

    def after(self, op: RowOp) -> None:
        self.seen.append(("after", op, len(self.rows)))


def numbers(rows: ExecutionRows) -> list[int]:
    return [uuid.UUID(r["id"]).int for r in rows.rows]


def test_the_model_imports_with_qt_unavailable() -> None:
    script = """
import importlib.abc, json, sys
BLOCKED = {"PySide6", "shiboken6", "qasync", "pytestqt"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
import studio.views.monitor.model as m, studio.views.monitor._api
live = m.LiveExecutions()
live.take_page({"items": [{"id": "1", "state": "running", "created_at": "2026-12-07T10:00:00Z"}]})
print(json.dumps({"rows": len(live.rows), "qt": sorted(x for x in sys.modules if x.split(".")[0] in BLOCKED)}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"rows": 1, "qt": []}


def test_rows_stay_newest_first_and_inserts_come_in_blocks() -> None:
    rows = ExecutionRows()
    recorder = Recorder(rows)
    rows.listener = recorder
    ops = rows.merge([row(n) for n in (5, 3, 9, 7)])
    assert numbers(rows) == [9, 7, 5, 3]
    assert ops == [RowOp("insert", 0, 4)]  # one block, announced before the rows change
    assert recorder.seen == [("before", RowOp("insert", 0, 4), 0), ("after", RowOp("insert", 0, 4), 4)]
    ops = rows.merge([row(n) for n in (10, 11, 8, 1, 2)])
    assert numbers(rows) == [11, 10, 9, 8, 7, 5, 3, 2, 1]
    assert ops == [RowOp("insert", 0, 2), RowOp("insert", 3, 1), RowOp("insert", 7, 2)]
    assert rows.index_of(str(uuid.UUID(int=8))) == 3


def test_a_known_row_is_updated_in_place_and_an_unchanged_one_is_not_touched() -> None:
    rows = ExecutionRows()
    rows.merge([row(1, "running"), row(2, "queued")])
    assert rows.merge([row(1, "succeeded"), row(2, "queued")]) == [RowOp("update", 1)]
    assert rows.rows[1]["state"] == "succeeded"


def test_a_row_that_stops_matching_the_filter_leaves() -> None:
    rows = ExecutionRows()
    running = ExecutionFilter(states=("running",))
    rows.merge([row(1, "running"), row(2, "running")], running)
    assert rows.merge([row(1, "succeeded")], running) == [RowOp("remove", 1)]
    assert numbers(rows) == [2]
    assert rows.index_of(str(uuid.UUID(int=2))) == 0


def test_the_filter_builds_the_query_and_checks_rows_itself() -> None:
    chosen = ExecutionFilter(
        workflow_id="w1",
        states=("failed",),
        agent_id="a2",
        trigger="schedule",
        created_after=T0,
        created_before=T0 + timedelta(days=1),
        search=" Inv ",
    )
    assert chosen.query() == {
        "workflow_id": "w1",
        "state": ["failed"],
        "trigger": "schedule",
        "created_after": "2026-12-07T10:00:00+00:00",
        "created_before": "2026-12-08T10:00:00+00:00",
        "q": "Inv",
    }
    assert "agent_id" not in chosen.query()  # the API has no agent filter: the monitor checks it
    good = row(5, "failed", agent_id="a2", trigger={"type": "schedule"})
    assert chosen.matches(good)
    assert not chosen.matches({**good, "agent_id": "a1"})
    assert not chosen.matches({**good, "state": "running"})
    assert not chosen.matches({**good, "trigger": {"type": "manual"}})
    assert not chosen.matches({**good, "workflow_name": "Payroll"})
    assert not chosen.matches({**good, "created_at": "2026-12-08T10:00:00Z"})
    assert ExecutionFilter(search=good["id"][:8]).matches(good)
    later = T0 + timedelta(hours=2)
    assert ExecutionFilter(created_after=T0).query(created_after=later)["created_after"] == later.isoformat()
    assert ExecutionFilter(created_after=later).query(created_after=T0)["created_after"] == later.isoformat()


def test_paging_follows_the_cursor_and_a_new_filter_starts_over() -> None:
    live = LiveExecutions(page_size=2)
    assert live.first_page() == {"limit": 2}
    live.take_page({"items": [row(9), row(8)], "total": 3, "next_cursor": "c1"})
    assert live.can_fetch_more
    assert live.more() == {"limit": 2, "cursor": "c1"}
    live.take_page({"items": [row(7)], "total": 3, "next_cursor": None})
    assert numbers(live.rows) == [9, 8, 7]
    assert not live.can_fetch_more
    assert live.more() is None
    generation = live.generation
    assert live.set_filter(ExecutionFilter(agent_id="a9")) == {"limit": 2}
    assert len(live.rows) == 0
    assert live.generation == generation + 1
    live.take_page({"items": [row(3), row(2, agent_id="a9")], "total": 2})
    assert numbers(live.rows) == [2]  # the agent filter applies to the rows received


def test_a_refresh_asks_from_the_oldest_unfinished_row_and_folds_changes_in() -> None:
    live = LiveExecutions()
    live.take_page({"items": [row(9), row(8, "running"), row(7, "queued"), row(6)], "total": 4})
    poll, query = live.start_poll()
    assert query["created_after"] == (T0 + timedelta(seconds=7)).isoformat()
    assert poll.watched == {str(uuid.UUID(int=7)), str(uuid.UUID(int=8))}
    assert live.poll_page(poll, {"items": [row(10, "queued"), row(9), row(8, "succeeded"), row(7, "running")]}) is None
    ops = live.finish_poll(poll)
    assert ops == [RowOp("update", 1), RowOp("update", 2), RowOp("insert", 0, 1)]
    assert [r["state"] for r in live.rows.rows] == ["queued", "succeeded", "succeeded", "running", "succeeded"]
    assert live.total == 5


def test_a_refresh_with_everything_over_asks_from_the_newest_row() -> None:
    live = LiveExecutions()
    assert live.start_poll()[1] == {"limit": 500}  # nothing shown yet: the newest page
    live.take_page({"items": [row(4), row(3)], "total": 2})
    assert live.start_poll()[1]["created_after"] == (T0 + timedelta(seconds=4)).isoformat()


def test_an_unfinished_row_missing_from_a_refresh_left_the_filter() -> None:
    live = LiveExecutions()
    live.set_filter(ExecutionFilter(states=("running",)))
    live.take_page({"items": [row(5, "running"), row(4, "running")], "total": 2})
    poll, _ = live.start_poll()
    live.poll_page(poll, {"items": [row(5, "running")]})
    assert live.finish_poll(poll) == [RowOp("remove", 1)]
    assert numbers(live.rows) == [5]
    assert live.total == 1


def test_a_refresh_that_overflows_asks_for_a_reload() -> None:
    live = LiveExecutions(page_size=1)
    live.take_page({"items": [row(1, "running")], "total": 1})
    poll, first = live.start_poll()
    query = first
    for _ in range(10):
        following = live.poll_page(poll, {"items": [row(2)], "next_cursor": "more"})
        if following is None:
            break
        assert following["cursor"] == "more"
        assert following["created_after"] == first["created_after"]
        query = following
    assert query is not first
    assert live.finish_poll(poll) is None


@pytest.mark.parametrize(
    ("path", "node"), [("open", "open"), ("each[3]/fill", "fill"), ("each[0]/inner[12]", "inner"), ("a/b/c", "c")]
)
def test_a_journal_path_names_its_node(path: str, node: str) -> None:
    assert node_id(path) == node


def test_only_the_flows_own_nodes_are_on_its_canvas() -> None:
    parents = {"each": None, "fill": "each", "call": None, "open": None}
    assert on_canvas("open", parents)
    assert on_canvas("each[3]/fill", parents)
    assert on_canvas("call", parents)
    assert not on_canvas("call/open", parents)  # `open` of the called sub-flow, not this flow's
    assert not on_canvas("call/inner", parents)
    assert not on_canvas("fill", parents)  # not at the top


def event(seq: int, kind: str, path: str = "", **data: Any) -> dict[str, Any]:
    return {"seq": seq, "type": kind, "path": path, "data": data, "ts": 1.0}


def test_the_journal_folds_into_node_states_logs_and_the_end() -> None:
    fold = JournalFold()
    changes = []
    journal = [
        event(1, "execution.started", inputs={"n": 1}),
        event(2, "node.started", "a"),
        event(3, "log", "a", level="info", message="hello"),
        event(4, "node.succeeded", "a", output=1),
        event(5, "node.started", "b"),
        event(6, "node.failed", "b", error={"message": "flaky"}, will_retry=True),
        event(7, "node.started", "b"),
        event(8, "node.failed", "b", error={"message": "down"}, will_retry=False),
        event(9, "node.skipped", "c", reason="error"),
        event(10, "node.restarted", rerun=["b", "c"]),
        event(11, "execution.finished", status="failed", outputs={}, error={"message": "down"}),
    ]
    finished = False
    for item in journal:
        folded = fold.apply(item)
        changes += [(c.node, c.state) for c in folded.states]
        finished = finished or folded.finished
    assert changes == [
        ("a", "running"),
        ("a", "done"),
        ("b", "running"),
        ("b", "failed"),
        ("c", "skipped"),
        ("b", None),
        ("c", None),
    ]
    assert fold.states == {"a": "done"}
    assert [(log.path, log.level, log.message) for log in fold.logs] == [
        ("a", "info", "hello"),
        ("b", "warning", "error: flaky (retry in None s)"),
        ("b", "error", "error: down"),
    ]
    assert fold.inputs == {"n": 1}
    assert fold.status == "failed"
    assert fold.error == {"message": "down"}
    assert finished
    assert fold.last_seq == 11
    assert fold.apply(event(4, "node.succeeded", "a")).states == []  # a repeat (a reconnect) changes nothing
    assert fold.events == 11


def test_a_journal_line_says_what_happened() -> None:
    assert "node.failed" in describe(event(8, "node.failed", "b", error={"message": "down"}, will_retry=True))
    assert "down (will retry)" in describe(event(8, "node.failed", "b", error={"message": "down"}, will_retry=True))
    assert "INFO hello" in describe(event(3, "log", "a", level="info", message="hello"))
    assert len(describe(event(4, "node.succeeded", "a", output="x" * 500), width=80)) == 80


def test_the_actions_follow_the_state() -> None:
    assert allowed("running") == {"cancel": True, "retry": False, "resume": False, "diagnose": False}
    assert allowed("queued") == {"cancel": True, "retry": False, "resume": False, "diagnose": False}
    assert allowed("failed") == {"cancel": False, "retry": True, "resume": True, "diagnose": True}
    assert allowed("succeeded") == {"cancel": False, "retry": True, "resume": False, "diagnose": False}
    assert set(ACTIONS) == {"cancel", "retry", "resume", "diagnose"}


def test_public_names_are_pinned() -> None:
    import studio.views.monitor
    import studio.views.monitor.model

    assert studio.views.monitor.__all__ == [
        "ApiSource",
        "ExecutionView",
        "ExecutionsTableModel",
        "MonitorDock",
        "MonitorWidget",
        "monitor_dock",
    ]
    assert studio.views.monitor.model.__all__ == [
        "ACTIONS",
        "JSON",
        "PAGE_SIZE",
        "POLL_PAGES",
        "ExecutionFilter",
        "ExecutionRows",
        "Folded",
        "JournalFold",
        "LiveExecutions",
        "LogLine",
        "MonitorSource",
        "NodeState",
        "Poll",
        "Row",
        "RowListener",
        "RowOp",
        "allowed",
        "describe",
        "is_terminal",
        "node_id",
        "on_canvas",
        "parse_time",
        "sort_key",
    ]
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = studio.views.monitor.Nope
