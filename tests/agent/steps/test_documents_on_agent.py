"""The pdf_invoice example run by the agent's real runtime (in-memory orchestrator): an encrypted
invoice opened with a password sent in job.assign, which never shows in what the agent reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.runtime import AgentConfig, AgentRuntime
from shared.protocol import JobAssign, JournalBatch, encode
from tests.agent.memory_orchestrator import MemoryOrchestrator, until

TEMPLATES = Path(__file__).resolve().parents[3] / "resources" / "templates"
PASSWORD = "Inv0ice-pass-on-agent"


def _end(server: MemoryOrchestrator, execution_id: str) -> dict[str, Any] | None:
    """The data of the execution.finished event the agent journaled, once it arrived."""
    for message in server.received:
        if isinstance(message, JournalBatch) and message.execution_id == execution_id:
            for event in message.events:
                if event.type == "execution.finished":
                    return dict(event.data)
    return None


async def test_pdf_invoice_runs_on_an_agent_and_the_password_stays_masked(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(TEMPLATES / "assets" / "invoice.pdf"))
    writer.encrypt(user_password=PASSWORD, algorithm="AES-256")
    locked = tmp_path / "locked.pdf"
    writer.write(locked)
    flow = json.loads((TEMPLATES / "pdf_invoice.json").read_text(encoding="utf-8"))["flow"]

    server = MemoryOrchestrator()
    config = AgentConfig(url="http://memory", key="rpa_ak_test", name="docs", home=tmp_path / "agent")
    runtime = AgentRuntime(config, connector=server.connector)
    runtime.start()
    try:
        job = JobAssign(
            execution_id="inv1",
            attempt=1,
            flow=flow,
            inputs={"file": str(locked), "password": "invoice_pdf"},
            secrets={"invoice_pdf": PASSWORD},
        )
        await server.assign(job)
        # The journal's end, not job.finished: what the steps did is what this test is about.
        await until(lambda: _end(server, "inv1") is not None, within=60, what="execution.finished")
    finally:
        await runtime.stop()
    end = _end(server, "inv1")
    assert end is not None
    assert end["status"] == "succeeded", end["error"]
    assert end["outputs"]["invoice_number"] == "INV-2026-0042"
    assert end["outputs"]["total"] == "170.50 EUR"
    assert len(end["outputs"]["lines"]) == 3
    reported = "".join(encode(m) for m in server.received)
    assert PASSWORD not in reported
