"""The organisation's AI budget, counted in the database so every orchestrator process shares it.

A request takes its place before the model is asked: a row in `ai_usage` (outcome `pending`,
no tokens yet) that `record_usage` completes afterwards. The budget is "at most N rows of the
organisation in the last 60 s". Two processes admitting at once must not both see room for
one, so admission is serialised per organisation:

- PostgreSQL: the organisation's row is locked (`SELECT ... FOR UPDATE`) until the admitting
  transaction ends; other organisations are not held up.
- SQLite (one file, any number of processes): the reservation is inserted before counting, which
  takes the database's write lock until the transaction ends; SQLAlchemy leaves out `FOR UPDATE`.

A refused request's row goes with its rolled-back transaction. Timestamps are the processes'
UTC clocks: replicas on several machines need them in sync (NTP), as for leases.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.models.ai import AiUsage
from orchestrator.models.identity import Organisation

WINDOW = timedelta(seconds=60)
PENDING = "pending"
"""`ai_usage.outcome` of a request admitted and not finished yet."""


class AiBudgetExceeded(Exception):
    """The organisation used its AI requests of the window; `retry_after_s` until one frees up."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"AI budget exceeded; retry in {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


async def reserve_request(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    per_minute: int,
    feature: str,
    model: str,
    user_id: uuid.UUID | None,
    now: datetime | None = None,
) -> uuid.UUID:
    """Take one of the organisation's AI requests of the current minute (only flushes).

    Returns:
        The id of the `ai_usage` row to complete with `record_usage(..., reservation=...)`.

    Raises:
        AiBudgetExceeded: `per_minute` requests were already admitted in the last 60 s; the
            caller's transaction must roll back (the reservation then disappears with it).
    """
    now = now or utcnow()
    await session.execute(select(Organisation.id).where(Organisation.id == org_id).with_for_update())
    row = AiUsage(
        org_id=org_id,
        feature=feature,
        model=model,
        attempts=0,
        input_tokens=0,
        output_tokens=0,
        cost_usd=0.0,
        user_id=user_id,
        outcome=PENDING,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    times = (
        await session.scalars(
            select(AiUsage.created_at)
            .where(AiUsage.org_id == org_id, AiUsage.created_at > now - WINDOW)
            .order_by(AiUsage.created_at)
        )
    ).all()
    if len(times) > per_minute:
        # The request may go once enough of the oldest have left the window.
        frees_up = times[len(times) - per_minute - 1] + WINDOW
        raise AiBudgetExceeded(max(0.0, (frees_up - now).total_seconds()))
    return row.id
