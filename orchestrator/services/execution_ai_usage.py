"""The AI token usage and cost of one execution, summed from its journal.

Every call of an `ai.*` step journals a `node.note` of kind `ai_usage` (`input_tokens`,
`output_tokens`, `cost_usd`, `model`). Notes rather than the steps' outputs, because a note is
written for every call, also for the calls of a step that then failed (an extraction whose retry
did not fit) and for each attempt of a retried node, and because only `ai.*` steps write this
kind, while any step's output may happen to hold a `usage` key.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models.executions import ExecutionEvent

__all__ = ["AI_USAGE_NOTE", "ai_usage", "sum_ai_usage"]

AI_USAGE_NOTE = "ai_usage"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def sum_ai_usage(notes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Sum `ai_usage` notes; None when there are none. `cost_usd` counts the priced calls only."""
    calls = [n for n in notes if n.get("kind") == AI_USAGE_NOTE]
    if not calls:
        return None
    costs = [n.get("cost_usd") for n in calls]
    priced = [c for c in costs if isinstance(c, int | float) and not isinstance(c, bool)]
    return {
        "calls": len(calls),
        "input_tokens": sum(_count(n.get("input_tokens")) for n in calls),
        "output_tokens": sum(_count(n.get("output_tokens")) for n in calls),
        "cost_usd": round(sum(priced), 6),
        "unpriced_calls": len(calls) - len(priced),
    }


async def ai_usage(session: AsyncSession, execution_id: uuid.UUID) -> dict[str, Any] | None:
    """The summed `ai_usage` notes of an execution's stored journal (None: no AI call)."""
    rows = await session.scalars(
        select(ExecutionEvent.data).where(
            ExecutionEvent.execution_id == execution_id, ExecutionEvent.type == "node.note"
        )
    )
    return sum_ai_usage([data for data in rows if isinstance(data, dict)])
