"""The ai_mail_triage example run by the agent's real runtime (in-memory orchestrator), with the
API key sent in job.assign: the flow routes, its `ai_usage` notes reach the orchestrator, and the
key shows nowhere in what the agent reports, its outbox or its logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.runtime import AgentConfig, AgentRuntime
from shared.protocol import JobAssign, JournalBatch, encode
from tests.agent.memory_orchestrator import MemoryOrchestrator, until
from tests.agent.steps.ai.test_template import answer
from tests.fakes.anthropic_server import FakeAnthropic

TEMPLATES = Path(__file__).resolve().parents[4] / "resources" / "templates"
KEY = "sk-ant-on-agent-5e6f7a8b"


def _events(server: MemoryOrchestrator, execution_id: str) -> list[Any]:
    return [
        event
        for message in server.received
        if isinstance(message, JournalBatch) and message.execution_id == execution_id
        for event in message.events
    ]


def _end(server: MemoryOrchestrator, execution_id: str) -> dict[str, Any] | None:
    ends = [e for e in _events(server, execution_id) if e.type == "execution.finished"]
    return dict(ends[0].data) if ends else None


async def test_ai_template_runs_on_an_agent_and_the_key_stays_masked(tmp_path: Path) -> None:
    flow = json.loads((TEMPLATES / "ai_mail_triage.json").read_text(encoding="utf-8"))["flow"]
    server = MemoryOrchestrator()
    config = AgentConfig(url="http://memory", key="rpa_ak_test", name="ai", home=tmp_path / "agent")
    with FakeAnthropic(answer, keys={KEY}) as api:
        runtime = AgentRuntime(config, connector=server.connector)
        runtime.start()
        try:
            job = JobAssign(
                execution_id="ai1",
                attempt=1,
                flow=flow,
                inputs={"mail": "Order A-1234 broke, 19.90 EUR", "base_url": api.url, "credential": "anthropic"},
                secrets={"anthropic": KEY},
            )
            await server.assign(job)
            await until(lambda: _end(server, "ai1") is not None, within=60, what="execution.finished")
        finally:
            await runtime.stop()
    end = _end(server, "ai1")
    assert end is not None
    assert end["status"] == "succeeded", end["error"]
    assert end["outputs"]["decision"] == "refund"
    notes = [e for e in _events(server, "ai1") if e.type == "node.note" and e.data.get("kind") == "ai_usage"]
    assert [n.path for n in notes] == ["kind", "order", "route", "refund"]
    assert all(r.api_key == KEY for r in api.requests)
    reported = "".join(encode(m) for m in server.received)
    assert KEY not in reported
    files = [f for f in (tmp_path / "agent").rglob("*") if f.is_file()]
    assert any(f.suffix in (".db", ".sqlite", ".sqlite3") or "outbox" in f.name for f in files), files
    for file in files:
        assert KEY.encode() not in file.read_bytes(), file
