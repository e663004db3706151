"""An attended run keeps its steps' log lines: journaled as `log` events (bounded), shown
in the tray's run details, and sent to the orchestrator with the run's journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.attended import start_attended
from agent.runtime import _logs
from shared.protocol import JournalBatch
from tests.agent.attended.conftest import ReportingOrchestrator, cached, make_runtime
from tests.agent.memory_orchestrator import until

HOTKEY = {"type": "hotkey", "hotkey": "Ctrl+Alt+F5"}


def _logging_flow(*messages: str) -> dict[str, Any]:
    nodes = [{"id": f"say{i}", "type": "core.log", "params": {"message": m}} for i, m in enumerate(messages)]
    edges = [{"from": f"say{i}", "to": f"say{i + 1}"} for i in range(len(messages) - 1)]
    return {"schema": "rpa.flow/1", "name": "Talks", "nodes": nodes, "edges": edges}


async def test_log_lines_are_journaled_bounded_shown_and_sent(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.tray import run_outcome

    monkeypatch.setattr(_logs, "MAX_LOG_LINES", 3)
    monkeypatch.setattr(_logs, "MAX_LOG_CHARS", 40)
    server = ReportingOrchestrator()
    runtime = make_runtime(tmp_path, server)
    flow = _logging_flow("invoice 17 read", "x" * 100, "third", "fourth", "fifth")
    try:
        run = start_attended(runtime, cached(tmp_path, flow), trigger=HOTKEY, user_id=None)
        await run.wait()  # offline: the lines are in the outbox already
        logs = [(e.path, e.data) for e in runtime.outbox.events(run.execution_id) if e.type == "log"]
        assert logs == [
            ("say0", {"level": "info", "message": "invoice 17 read"}),
            ("say1", {"level": "info", "message": "x" * 40 + " …(cut)"}),
            ("say2", {"level": "info", "message": "third"}),
            ("say3", {"level": "warning", "message": "more log lines than 3: the rest of this run's are not kept"}),
        ]
        shown = run_outcome(runtime, run).logs
        assert "INFO    say0: invoice 17 read" in shown
        assert shown.index("INFO    say0: invoice 17 read") < shown.index("OK      say0")  # in journal order

        runtime.start()
        await until(lambda: run.execution_id in server.finished, what="the run to reach the orchestrator")
        sent = [e for m in server.received if isinstance(m, JournalBatch) for e in m.events if e.type == "log"]
        assert [e.data["message"] for e in sent] == [data["message"] for _path, data in logs]
    finally:
        await runtime.stop()
