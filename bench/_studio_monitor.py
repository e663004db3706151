"""The monitor half of `bench/studio.py`: the executions list with 10,000 executions and one
execution streaming 1,000 journal events, against a naive `QTableWidget` filled item by item, in
a fresh process, Qt offscreen. `max_stall_ms` is the wall-clock stall; `max_busy_ms` the CPU the UI
thread used in the worst gap (what an idle machine would see; on a shared one the first is the
second plus the time the process waited for a core).

    python bench/_studio_monitor.py [--rows 10000] [--events 1000]   # prints one JSON row

The data comes from an in-memory stand-in of the orchestrator (`StubSource`, the monitor's
`MonitorSource` protocol: pages by cursor, filters by state, workflow and text), so the numbers
are the studio's, not a server's. A `QTimer` heartbeat (every 5 ms) runs throughout: the largest
gap between two beats is the longest the event loop was blocked (the target is 50 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.views.monitor import ExecutionView, MonitorWidget  # noqa: E402
from studio.views.monitor._table import COLUMNS, ExecutionsTableModel  # noqa: E402
from studio.views.monitor.model import ExecutionFilter, LiveExecutions, parse_time  # noqa: E402

STATES = ("succeeded", "succeeded", "succeeded", "failed", "running", "queued", "cancelled")
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
STALL_TARGET_MS = 50.0


def execution(i: int) -> dict[str, Any]:
    """The i-th newest execution."""
    created = T0 - timedelta(seconds=i)
    state = STATES[i % len(STATES)]
    over = state in ("succeeded", "failed", "cancelled")
    return {
        "id": str(uuid.UUID(int=10**9 - i)),
        "workflow_id": f"w{i % 20}",
        "workflow_name": f"Workflow {i % 20:02d}",
        "version_id": "v",
        "version_number": 1 + i % 3,
        "state": state,
        "priority": "normal",
        "trigger": {"type": ("manual", "schedule", "webhook")[i % 3]},
        "agent_id": None if state == "queued" else f"a{i % 8}",
        "created_at": created.isoformat(),
        "started_at": None if state == "queued" else (created + timedelta(seconds=1)).isoformat(),
        "finished_at": (created + timedelta(seconds=5)).isoformat() if over else None,
        "updated_at": created.isoformat(),
    }


def chain(size: int) -> dict[str, Any]:
    """A flow of one `loop` (a foreach) over `size` steps in a row, without positions (the view
    lays it out)."""
    body = [{"id": f"n{i}", "type": "core.noop", "params": {"value": i}} for i in range(size)]
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(size - 1)]
    loop = {
        "id": "loop",
        "type": "control.foreach",
        "params": {"items": [1, 2]},
        "body": {"nodes": body, "edges": edges},
    }
    return {"schema": "rpa.flow/1", "name": "bench stream", "nodes": [loop], "edges": []}


def journal(events: int, nodes: int) -> list[dict[str, Any]]:
    """`events` journal events: node instances started, logging and succeeding, looping over `nodes`."""
    items: list[dict[str, Any]] = [{"type": "execution.started", "path": "", "data": {"inputs": {}}}]
    k = 0
    while len(items) < events - 1:
        path = f"loop[{k // nodes}]/n{k % nodes}"
        items.append({"type": "node.started", "path": path, "data": {"attempt": 1, "type": "core.noop"}})
        items.append({"type": "log", "path": path, "data": {"level": "info", "message": f"row {k}"}})
        items.append({"type": "node.succeeded", "path": path, "data": {"output": k, "port": "out"}})
        k += 1
    items = items[: events - 1]
    items.append({"type": "execution.finished", "path": "", "data": {"status": "succeeded", "outputs": {"n": k}}})
    return [{"seq": i + 1, "ts": 0.0, **item} for i, item in enumerate(items)]


class StubSource:
    """An orchestrator in memory (the `MonitorSource` protocol), for the benchmark only."""

    def __init__(self, rows: int, events: int, nodes: int = 50) -> None:
        self.rows = [execution(i) for i in range(rows)]
        self.events = journal(events, nodes)
        self.flow = chain(nodes)
        self.streamed = False

    def list_executions(self, params: Mapping[str, Any]) -> dict[str, Any]:
        wanted = ExecutionFilter(
            workflow_id=params.get("workflow_id"),
            states=tuple(params.get("state") or ()),
            trigger=params.get("trigger"),
            created_after=parse_time(params.get("created_after")),
            search=str(params.get("q") or ""),
        )
        rows = [row for row in self.rows if wanted.matches(row)]
        start = int(params.get("cursor") or 0)
        end = start + int(params.get("limit") or 50)
        return {"items": rows[start:end], "total": len(rows), "next_cursor": str(end) if end < len(rows) else None}

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return {**self.rows[0], "id": execution_id, "state": "succeeded" if self.streamed else "running"}

    def stream_execution(self, execution_id: str, *, follow: bool, after_seq: int = 0) -> Iterator[tuple[str, Any]]:
        for event in self.events[after_seq:]:
            yield "journal", event
        self.streamed = True
        yield "end", {"state": "succeeded", "last_seq": len(self.events)}

    def list_transitions(self, execution_id: str) -> list[dict[str, Any]]:
        return []

    def list_artifacts(self, execution_id: str) -> list[dict[str, Any]]:
        return []

    def download_artifact(self, execution_id: str, artifact_id: str) -> bytes:
        return b""

    def get_version(self, workflow_id: str, number: int) -> dict[str, Any]:
        return {"document": self.flow}

    def cancel_execution(self, execution_id: str, reason: str = "") -> dict[str, Any]:
        return self.get_execution(execution_id)

    def retry_execution(self, execution_id: str, *, resume: bool = False) -> dict[str, Any]:
        return self.get_execution(execution_id)

    def list_workflows(self) -> list[dict[str, Any]]:
        return [{"id": f"w{i}", "name": f"Workflow {i:02d}"} for i in range(20)]

    def list_agents(self) -> list[dict[str, Any]]:
        return [{"id": f"a{i}", "name": f"robot-{i}"} for i in range(8)]


class Heartbeat:
    """A 5 ms timer; `max_gap_ms` is the longest the event loop went without serving it."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._beat)
        self.last = 0.0
        self.max_gap_ms = 0.0
        self.last_busy = 0.0
        self.max_busy_ms = 0.0
        self.beats = 0

    def _beat(self) -> None:
        now, busy = time.perf_counter(), time.thread_time()
        self.beats += 1
        self.max_gap_ms = max(self.max_gap_ms, (now - self.last) * 1000)
        self.max_busy_ms = max(self.max_busy_ms, (busy - self.last_busy) * 1000)
        self.last, self.last_busy = now, busy

    def start(self) -> None:
        self.last, self.max_gap_ms, self.beats = time.perf_counter(), 0.0, 0
        self.last_busy, self.max_busy_ms = time.thread_time(), 0.0
        self.timer.start()

    def stop(self) -> tuple[float, float]:
        """The longest gap between two beats (wall clock), and the most CPU the UI thread spent in
        one gap (the stall an idle machine would see: a busy one adds the time it is descheduled)."""
        self.timer.stop()
        return round(self.max_gap_ms, 1), round(self.max_busy_ms, 1)


def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> float:
    """Run the event loop until `condition()`; the seconds it took."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    start = time.perf_counter()
    app = QApplication.instance()
    assert app is not None
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the monitor did not get there")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.001)
    return time.perf_counter() - start


def scroll_frames(view: Any) -> tuple[float, float]:
    """Median and worst CPU ms of the UI thread to render the table (`grab()`: offscreen windows are
    never exposed, so `repaint()` would draw nothing) at 101 scroll positions, top to bottom."""
    from PySide6.QtWidgets import QApplication

    bar = view.verticalScrollBar()
    times = []
    for step in range(101):
        bar.setValue(bar.maximum() * step // 100)
        start = time.thread_time()
        view.viewport().grab()
        times.append((time.thread_time() - start) * 1000)
        QApplication.processEvents()  # the heartbeat sees one frame at a time
    return round(statistics.median(times), 2), round(max(times), 2)


def monitor_rows(source: StubSource, beat: Heartbeat) -> dict[str, Any]:
    """The monitor: open (every page), filter (state=failed), clear it, scroll; with the max stall."""
    total = len(source.rows)
    beat.start()
    start = time.perf_counter()
    monitor = MonitorWidget(source, poll_ms=0)
    monitor.resize(1100, 700)
    monitor.show()
    wait_until(lambda: monitor.live.loaded_once)
    while len(monitor.live.rows) < total:  # what scrolling to the end asks for, page after page
        monitor.load_more()
        wait_until(lambda: not monitor.model.loading)
    open_s = time.perf_counter() - start
    failed = sum(row["state"] == "failed" for row in source.rows)
    start = time.perf_counter()
    monitor.state_box.setCurrentIndex(monitor.state_box.findData("failed"))
    wait_until(lambda: monitor.live.loaded_once and len(monitor.live.rows) == min(failed, monitor.live.page_size))
    filter_s = time.perf_counter() - start
    monitor.state_box.setCurrentIndex(0)
    wait_until(lambda: monitor.live.loaded_once)
    while len(monitor.live.rows) < total:
        monitor.load_more()
        wait_until(lambda: not monitor.model.loading)
    scroll_median, scroll_worst = scroll_frames(monitor.table)
    start = time.perf_counter()
    monitor.refresh()  # a live refresh over 10,000 rows (unfinished ones in view)
    wait_until(lambda: not monitor._polling)
    refresh_s = time.perf_counter() - start
    stall, busy = beat.stop()
    monitor.shutdown()
    monitor.close()
    return {
        "what": "monitor (QTableView + model)",
        "rows": total,
        "open_s": round(open_s, 3),
        "filter_s": round(filter_s, 3),
        "refresh_s": round(refresh_s, 3),
        "scroll_cpu_ms": scroll_median,
        "scroll_worst_cpu_ms": scroll_worst,
        "max_stall_ms": stall,
        "max_busy_ms": busy,
    }


def naive_rows(source: StubSource, beat: Heartbeat) -> dict[str, Any]:
    """The peer: a `QTableWidget` filled item by item on the UI thread, filtered by hiding rows."""
    from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem

    model = ExecutionsTableModel(LiveExecutions())  # only for its cell texts
    keys = [key for key, _ in COLUMNS]
    beat.start()
    start = time.perf_counter()
    table = QTableWidget(0, len(keys))
    table.resize(1100, 700)
    table.show()
    rows = source.list_executions({"limit": len(source.rows)})["items"]
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, key in enumerate(keys):
            table.setItem(r, c, QTableWidgetItem(model.text(row, key)))
    QApplication.processEvents()
    open_s = time.perf_counter() - start
    start = time.perf_counter()
    state = keys.index("state")
    for r in range(table.rowCount()):
        item = table.item(r, state)
        table.setRowHidden(r, item is None or item.text() != "failed")
    QApplication.processEvents()
    filter_s = time.perf_counter() - start
    for r in range(table.rowCount()):
        table.setRowHidden(r, False)
    scroll_median, scroll_worst = scroll_frames(table)
    stall, busy = beat.stop()
    table.close()
    return {
        "what": "naive QTableWidget",
        "rows": len(rows),
        "open_s": round(open_s, 3),
        "filter_s": round(filter_s, 3),
        "refresh_s": None,
        "scroll_cpu_ms": scroll_median,
        "scroll_worst_cpu_ms": scroll_worst,
        "max_stall_ms": stall,
        "max_busy_ms": busy,
    }


def stream_row(source: StubSource, beat: Heartbeat) -> dict[str, Any]:
    """One execution's view folding the whole journal as fast as the stream gives it (drawn with
    the window's step catalogue, as the dock passes it)."""
    from studio.views.monitor._execution import step_catalogue

    registry = step_catalogue()
    beat.start()
    start = time.perf_counter()
    view = ExecutionView(source, str(uuid.UUID(int=1)), registry=registry)
    view.resize(1200, 700)
    view.show()
    canvas_s = wait_until(lambda: view.canvas is not None)
    wait_until(lambda: view.fold.events == len(source.events))
    seconds = time.perf_counter() - start
    beats = beat.beats
    stall, busy = beat.stop()
    row = {
        "what": "execution view",
        "events": view.fold.events,
        "nodes": len(source.flow["nodes"][0]["body"]["nodes"]),
        "colour_changes": len(view.colour_changes),
        "canvas_s": round(canvas_s, 3),
        "all_s": round(seconds, 3),
        "beats": beats,
        "max_stall_ms": stall,
        "max_busy_ms": busy,
    }
    view.shutdown()
    view.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    beat = Heartbeat()
    source = StubSource(args.rows, args.events)
    result = {
        "list": [monitor_rows(source, beat), naive_rows(source, beat)],
        "stream": stream_row(source, beat),
        "stall_target_ms": STALL_TARGET_MS,
    }
    del app
    print(json.dumps(result))


if __name__ == "__main__":
    main()
