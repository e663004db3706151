"""The execution's API record sums the `ai_usage` notes its AI steps journaled."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from orchestrator.services.execution_ai_usage import sum_ai_usage
from tests.orchestrator.test_execution_events import append, event, running

__all__ = ["running"]  # the fixture, shared with the journal tests


def note(seq: int, path: str, **data: Any) -> dict[str, Any]:
    return event(seq, "node.note", path, data)


async def test_the_execution_record_shows_summed_ai_usage(
    app: FastAPI, client: httpx.AsyncClient, running: Any
) -> None:
    owner, execution_id = running
    url = f"/api/v1/executions/{execution_id}"
    before = (await client.get(url, headers=owner.headers)).json()
    assert before["ai_usage"] is None
    usage = {"input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.006, "model": "claude-sonnet-4-5"}
    await append(
        app,
        owner.org_id,
        execution_id,
        [
            note(1, "extract", kind="ai_usage", **usage),
            note(2, "extract", kind="ai_usage", **usage),  # the corrective retry
            note(3, "old", kind="healed", input_tokens=5),  # another kind of note: not counted
            event(4, "node.succeeded", "summary", {"output": {"usage": {"input_tokens": 99}}, "port": "out"}),
            note(5, "local", kind="ai_usage", input_tokens=10, output_tokens=1, cost_usd=None, model="my-model"),
        ],
    )
    body = (await client.get(url, headers=owner.headers)).json()
    assert body["ai_usage"] == {
        "calls": 3,
        "input_tokens": 2010,
        "output_tokens": 401,
        "cost_usd": 0.012,
        "unpriced_calls": 1,
    }


def test_sum_ignores_malformed_counts() -> None:
    got = sum_ai_usage([{"kind": "ai_usage", "input_tokens": "7", "output_tokens": -3, "cost_usd": True}])
    assert got == {"calls": 1, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "unpriced_calls": 1}
    assert sum_ai_usage([{"kind": "healed"}]) is None
