"""The executions table model changes by the rows that changed: one insert per page, one
`dataChanged` per updated row, one removal per row that left, checked by Qt's own model tester."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester

from studio.views.monitor._table import COLUMNS, ExecutionsTableModel, duration
from studio.views.monitor.model import ExecutionFilter, LiveExecutions
from tests.studio.views.monitor.test_model import row

pytestmark = pytest.mark.gui


def test_pages_updates_and_removals_are_incremental(qtmodeltester: ModelTester) -> None:
    live = LiveExecutions(page_size=3)
    model = ExecutionsTableModel(live)
    qtmodeltester.check(model)
    seen: list[tuple[str, int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: seen.append(("inserted", first, last)))
    model.rowsRemoved.connect(lambda _p, first, last: seen.append(("removed", first, last)))
    model.dataChanged.connect(lambda top, bottom: seen.append(("changed", top.row(), bottom.row())))
    model.modelReset.connect(lambda: seen.append(("reset", 0, 0)))

    live.take_page({"items": [row(9, "running"), row(8), row(7, "queued")], "next_cursor": "c"})
    assert seen == [("inserted", 0, 2)]
    assert model.rowCount() == 3
    assert model.columnCount() == len(COLUMNS)
    assert model.canFetchMore(QModelIndex())
    live.take_page({"items": [row(6), row(5)]})
    assert seen[-1] == ("inserted", 3, 4)
    assert not model.canFetchMore(QModelIndex())

    seen.clear()
    poll, _ = live.start_poll()
    live.poll_page(poll, {"items": [row(10, "queued"), row(9, "succeeded"), row(8), row(7, "running")]})
    live.finish_poll(poll)
    assert seen == [("changed", 0, 0), ("changed", 2, 2), ("inserted", 0, 0)]
    state = [key for key, _ in COLUMNS].index("state")
    assert [model.data(model.index(r, state)) for r in range(3)] == ["queued", "succeeded", "succeeded"]
    assert model.data(model.index(1, state), Qt.ItemDataRole.ForegroundRole).name() == "#2ecc71"
    assert model.data(model.index(0, 0), Qt.ItemDataRole.UserRole) == row(10)["id"]

    seen.clear()
    live.rows.merge([row(9, "failed")], ExecutionFilter(states=("succeeded",)))
    assert seen == [("removed", 1, 1)]
    seen.clear()
    live.set_filter(ExecutionFilter(states=("failed",)))
    assert seen == [("reset", 0, 0)]
    assert model.rowCount() == 0
    qtmodeltester.check(model)


def test_agent_names_replace_ids_in_the_cells() -> None:
    live = LiveExecutions()
    model = ExecutionsTableModel(live)
    live.take_page({"items": [row(1)]})
    agent = [key for key, _ in COLUMNS].index("agent")
    assert model.data(model.index(0, agent)) == "a1"
    changed: list[Any] = []
    model.dataChanged.connect(lambda *_: changed.append(1))
    model.set_agent_names({"a1": "robot-1"})
    assert changed
    assert model.data(model.index(0, agent)) == "robot-1"


@pytest.mark.parametrize(
    ("started", "finished", "shown"),
    [
        (None, None, ""),
        ("2026-12-07T10:00:00Z", "2026-12-07T10:00:04.25Z", "4.2s"),
        ("2026-12-07T10:00:00Z", "2026-12-07T10:01:05Z", "1m 05s"),
        ("2026-12-07T10:00:00Z", "2026-12-07T12:03:00Z", "2h 03m"),
    ],
)
def test_a_duration_reads_short(started: str | None, finished: str | None, shown: str) -> None:
    assert duration({"started_at": started, "finished_at": finished}) == shown
