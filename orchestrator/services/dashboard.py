"""The dashboard's figures, computed by the database: aggregates only, no execution row is loaded.

Everything is about the executions an organisation created in `[since, until)`: how many per
time bucket and state, and per workflow how many succeeded, how long they ran (p50/p95 by
nearest rank, with window functions that SQLite and PostgreSQL share) and how many took longer
than the workflow's SLA target. The queue part is about now. Agents' live status is the hub's
(the runtime layer above this one), so the caller passes `status_of`.

Durations are `finished_at - started_at` of the executions that ran and ended; waits are
`assigned_at - queued_at`. The two dialects spell "seconds between two timestamps" and "the hour
a timestamp falls in" differently; `_seconds` and `_bucket_start` are the only places that know.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.errors import Invalid
from orchestrator.models.agents import Agent
from orchestrator.models.executions import Execution
from orchestrator.models.workflows import Workflow
from orchestrator.schemas.dashboard import (
    AgentFigures,
    Bucket,
    DashboardPublic,
    QueueFigures,
    StateBucket,
    WorkflowFigures,
)
from shared.states import ExecutionStatus

MAX_BUCKETS = 1000
"""More buckets than a chart can show; a longer period needs a coarser bucket."""
STEP: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

_OK = (ExecutionStatus.SUCCEEDED.value,)
_FAILED = (ExecutionStatus.FAILED.value, ExecutionStatus.TIMED_OUT.value)
_CANCELLED = (ExecutionStatus.CANCELLED.value,)


@dataclass(frozen=True)
class Period:
    """`[since, until)` cut into buckets of one hour or one day (UTC)."""

    since: datetime
    until: datetime
    bucket: Bucket

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None, bucket: Bucket | None, now: datetime) -> Period:
        """The period asked for: defaults to the last 24 hours, by hour up to two days, else by day."""
        end = _utc(until) if until is not None else now
        try:
            start = _utc(since) if since is not None else end - timedelta(days=1)
        except OverflowError:  # `until` in year 1: there is no day before it
            raise Invalid("until is too early", details={"until": str(end)}) from None
        if start >= end:
            raise Invalid("since must be before until", details={"since": str(start), "until": str(end)})
        chosen: Bucket = bucket or ("hour" if end - start <= timedelta(days=2) else "day")
        period = cls(start, end, chosen)
        if len(period.starts()) > MAX_BUCKETS:
            raise Invalid(
                f"the period holds more than {MAX_BUCKETS} {chosen} buckets; choose a shorter period or bucket=day",
                details={"bucket": chosen},
            )
        return period

    def starts(self) -> list[datetime]:
        """The start of every bucket that meets the period, in order."""
        first = _truncate(self.since, self.bucket)
        step = STEP[self.bucket]
        count = int((self.until - first) / step) + (1 if (self.until - first) % step else 0)
        return [first + i * step for i in range(min(count, MAX_BUCKETS + 1))]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _truncate(value: datetime, bucket: Bucket) -> datetime:
    hour = value.replace(minute=0, second=0, microsecond=0)
    return hour.replace(hour=0) if bucket == "day" else hour


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _seconds(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[float]:
    if _postgres(session):
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _bucket_start(session: AsyncSession, column: Any, bucket: Bucket) -> ColumnElement[Any]:
    if _postgres(session):
        return func.date_trunc(bucket, func.timezone("UTC", column))
    # SQLite keeps UTC text (`2026-12-07 10:30:00.000000`): cut it to the hour or the day.
    return func.strftime("%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00", column)


def _as_datetime(value: datetime | str) -> datetime:
    return _utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def _in_period(org_id: uuid.UUID, period: Period) -> list[ColumnElement[bool]]:
    return [Execution.org_id == org_id, Execution.created_at >= period.since, Execution.created_at < period.until]


def _ms(seconds: float | None) -> float | None:
    # Milliseconds: SQLite's julianday arithmetic is off by some microseconds.
    return round(seconds, 3) if seconds is not None else None


async def _percentiles(
    session: AsyncSession, key: Any, value: ColumnElement[float], where: list[ColumnElement[bool]]
) -> dict[Any, tuple[float, float, float]]:
    """key -> (p50, p95, max) of `value` over the rows matching `where` (nearest rank)."""
    ranked = (
        select(
            key.label("key"),
            value.label("value"),
            func.row_number().over(partition_by=key, order_by=value).label("rank"),
            func.count().over(partition_by=key).label("n"),
        )
        .where(*where)
        .subquery()
    )

    def at(percent: int) -> ColumnElement[float]:
        # Nearest rank: the ceil(n * p / 100)-th smallest value, in integer arithmetic.
        wanted = (ranked.c.n * percent + 99) // 100
        return func.max(case((ranked.c.rank == wanted, ranked.c.value)))

    rows = await session.execute(select(ranked.c.key, at(50), at(95), func.max(ranked.c.value)).group_by(ranked.c.key))
    # Milliseconds: SQLite's julianday arithmetic is off by some microseconds.
    return {row[0]: (round(row[1], 3), round(row[2], 3), round(row[3], 3)) for row in rows.all()}


async def _buckets(session: AsyncSession, org_id: uuid.UUID, period: Period) -> list[StateBucket]:
    start = _bucket_start(session, Execution.created_at, period.bucket).label("start")
    rows = await session.execute(
        select(start, Execution.state, func.count()).where(*_in_period(org_id, period)).group_by(start, Execution.state)
    )
    counts: dict[datetime, dict[str, int]] = {at: {} for at in period.starts()}
    for at, state, n in rows.all():
        counts.setdefault(_as_datetime(at), {})[state] = int(n)
    return [StateBucket(start=at, counts=counts[at]) for at in sorted(counts)]


async def _workflows(session: AsyncSession, org_id: uuid.UUID, period: Period) -> list[WorkflowFigures]:
    # One pass over the period's rows: each row with its duration (NULL unless it ran and ended)
    # and that duration's rank among its workflow's; the outer query counts, picks the
    # nearest-rank percentiles and compares with the SLA.
    duration = _seconds(session, Execution.finished_at, Execution.started_at)
    ranked = (
        select(
            Execution.workflow_id.label("key"),
            Execution.workflow_name.label("name"),
            Execution.state.label("state"),
            duration.label("value"),
            func.row_number()
            .over(partition_by=Execution.workflow_id, order_by=duration.asc().nulls_last())
            .label("rank"),
            func.count(duration).over(partition_by=Execution.workflow_id).label("n"),
        )
        .where(*_in_period(org_id, period))
        .subquery()
    )

    def at(percent: int) -> ColumnElement[float]:
        # Nearest rank: the ceil(n * p / 100)-th smallest duration, in integer arithmetic.
        return func.max(case((ranked.c.rank == (ranked.c.n * percent + 99) // 100, ranked.c.value)))

    def count_of(states: Sequence[str]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((ranked.c.state.in_(states), 1), else_=0)), 0)

    rows = await session.execute(
        select(
            ranked.c.key,
            func.max(func.coalesce(Workflow.name, ranked.c.name)),
            func.max(Workflow.sla_seconds),
            func.count(),
            count_of(_OK),
            count_of(_FAILED),
            count_of(_CANCELLED),
            func.coalesce(func.sum(case((ranked.c.value > Workflow.sla_seconds, 1), else_=0)), 0),
            at(50),
            at(95),
            func.max(ranked.c.value),
        )
        .outerjoin(Workflow, Workflow.id == ranked.c.key)
        .group_by(ranked.c.key)
    )
    figures = []
    for workflow_id, name, sla, count, ok, failed, cancelled, breached, p50, p95, longest in rows.all():
        figures.append(
            WorkflowFigures(
                workflow_id=workflow_id,
                name=name or "",
                count=count,
                succeeded=ok,
                failed=failed,
                cancelled=cancelled,
                active=count - ok - failed - cancelled,
                success_rate=ok / (ok + failed) if ok + failed else None,
                p50_seconds=_ms(p50),
                p95_seconds=_ms(p95),
                max_seconds=_ms(longest),
                sla_seconds=sla,
                breached=breached,
            )
        )
    return sorted(figures, key=lambda f: (-f.count, f.name, str(f.workflow_id)))


async def _queue(session: AsyncSession, org_id: uuid.UUID, period: Period, now: datetime) -> QueueFigures:
    queued = [Execution.org_id == org_id, Execution.state == ExecutionStatus.QUEUED.value]
    depth, oldest = (await session.execute(select(func.count(), func.min(Execution.queued_at)).where(*queued))).one()
    waited = [*_in_period(org_id, period), Execution.queued_at.is_not(None), Execution.assigned_at.is_not(None)]
    wait = _seconds(session, Execution.assigned_at, Execution.queued_at)
    waits = await _percentiles(session, Execution.org_id, wait, waited)
    p50, p95, _ = waits.get(org_id, (None, None, None))
    oldest_wait = (now - _as_datetime(oldest)).total_seconds() if oldest is not None else None
    return QueueFigures(depth=depth, oldest_wait_seconds=oldest_wait, p50_wait_seconds=p50, p95_wait_seconds=p95)


async def _agents(
    session: AsyncSession, org_id: uuid.UUID, status_of: Callable[[uuid.UUID], str | None]
) -> AgentFigures:
    ids = (
        await session.scalars(
            select(Agent.id).where(Agent.org_id == org_id, Agent.deleted_at.is_(None), Agent.revoked_at.is_(None))
        )
    ).all()
    tally = {"online": 0, "busy": 0, "unresponsive": 0, "offline": 0}
    for agent_id in ids:
        status = status_of(agent_id)
        tally[status if status in tally else "offline"] += 1
    return AgentFigures(total=len(ids), **tally)


async def dashboard(
    session: AsyncSession,
    org_id: uuid.UUID,
    period: Period,
    *,
    status_of: Callable[[uuid.UUID], str | None],
    now: datetime,
) -> DashboardPublic:
    """The organisation's figures for `period`; `status_of` gives an agent's live status (None: offline)."""
    buckets = await _buckets(session, org_id, period)
    states: dict[str, int] = {}
    for bucket in buckets:
        for state, n in bucket.counts.items():
            states[state] = states.get(state, 0) + n
    return DashboardPublic(
        since=period.since,
        until=period.until,
        bucket=period.bucket,
        generated_at=now,
        total=sum(states.values()),
        states=states,
        buckets=buckets,
        workflows=await _workflows(session, org_id, period),
        agents=await _agents(session, org_id, status_of),
        queue=await _queue(session, org_id, period, now),
    )
