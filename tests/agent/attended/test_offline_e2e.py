"""An attended run while the orchestrator is down, for real: the orchestrator process is stopped,
the agent (its real runtime, connecting over a real WebSocket) runs a hotkey run of its cached
flow to the end, the orchestrator starts again, and the execution appears once, recorded like any
other, with its whole journal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.attended import FlowCache, start_attended
from agent.runtime import AgentConfig, AgentRuntime
from tests.agent.memory_orchestrator import until, wait_flow
from tests.e2e._cluster import Agent, Orchestrator, gapless

pytestmark = pytest.mark.slow


async def test_an_offline_hotkey_run_appears_once_with_its_whole_journal(tmp_path: Path) -> None:
    orchestrator = Orchestrator(tmp_path)
    orchestrator.start()
    runtime: AgentRuntime | None = None
    try:
        orchestrator.setup_owner()
        document = wait_flow(3, 0.05) | {"name": "Month end", "settings": {"hotkey": "Ctrl+Alt+Shift+M"}}
        workflow_id = orchestrator.publish(document)
        user_id = orchestrator.api("GET", "/auth/me")["user_id"]
        enrolled = Agent(tmp_path, orchestrator, "desk-7")  # enrolled, its process never started
        flow = FlowCache(tmp_path / "flows").put(workflow_id, 1, document)

        orchestrator.stop()  # the orchestrator is down from here
        config = AgentConfig(
            url=orchestrator.url,
            key=enrolled.key_file.read_text(encoding="utf-8").strip(),
            name="desk-7",
            home=tmp_path / "agent-home",
            backoff_min_s=0.05,
            backoff_max_s=0.5,
        )
        runtime = AgentRuntime(config)
        runtime.start()
        run = start_attended(runtime, flow, trigger={"type": "hotkey", "hotkey": "Ctrl+Alt+Shift+M"}, user_id=user_id)
        await asyncio.wait_for(run.wait(), 30)
        local = runtime.outbox.events(run.execution_id)
        assert local[-1].data["status"] == "succeeded"

        await asyncio.to_thread(orchestrator.start)
        await until(lambda: runtime is not None and runtime.outbox.job(run.execution_id) is None, within=60)
        stored = await asyncio.to_thread(orchestrator.wait_state, run.execution_id, {"succeeded"})
        assert stored["trigger"]["type"] == "hotkey"
        events = await asyncio.to_thread(orchestrator.events, run.execution_id)
        assert [e["seq"] for e in events] == [e.seq for e in local]
        assert [e["type"] for e in events] == [e.type for e in local]
        assert gapless(events)
        listed = await asyncio.to_thread(
            orchestrator.api, "GET", "/executions", params={"workflow_id": workflow_id, "limit": 50}
        )
        assert [e["id"] for e in listed["items"]] == [run.execution_id]  # exactly once
    finally:
        if runtime is not None:
            await runtime.stop()
        orchestrator.stop()
