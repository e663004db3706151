#!/usr/bin/env python3
"""Dashboard benchmark: `GET /dashboard`'s figures computed by the database, against loading the
rows and computing the same figures in Python (the peer), on the same SQLite database.

    .venv/bin/python bench/dashboard.py [--sizes 10000,100000] [--workflows 20] [--repeat 3]
                                        [--out bench/results/dashboard.json]

For each size: a fresh migrated SQLite database, `size` executions of one organisation over the
last 24 hours (`--workflows` workflows, one in five with an SLA target; states, waits and
durations varied), inserted in bulk. Then, `--repeat` times each, best taken:

- aggregate: `orchestrator.services.dashboard.dashboard()` (grouped counts, window-function
  percentiles): what the route runs;
- rows (peer): one SELECT of the period's rows (the seven columns the figures need), then counts
  and nearest-rank percentiles in Python.

Both must give the same totals and per-workflow p95; the table prints seconds, peak Python memory
of each (tracemalloc) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from orchestrator.db.migrate import upgrade  # noqa: E402
from orchestrator.db.session import Database  # noqa: E402
from orchestrator.models.executions import Execution  # noqa: E402
from orchestrator.models.identity import Organisation  # noqa: E402
from orchestrator.models.workflows import Workflow  # noqa: E402
from orchestrator.services import dashboard as service  # noqa: E402

STATES = ("succeeded",) * 6 + ("failed", "cancelled", "running", "queued")


async def _seed(db: Database, size: int, workflows: int, now: datetime) -> uuid.UUID:
    rng = random.Random(7)
    org_id = uuid.uuid4()
    async with db.transaction() as session:
        session.add(Organisation(id=org_id, name="Bench", slug=f"bench-{org_id.hex[:8]}"))
        await session.flush()
        ids = [uuid.uuid4() for _ in range(workflows)]
        for n, workflow_id in enumerate(ids):
            session.add(
                Workflow(id=workflow_id, org_id=org_id, name=f"Flow {n}", sla_seconds=60 if n % 5 == 0 else None)
            )
        await session.flush()
        batch: list[dict[str, Any]] = []
        for i in range(size):
            created = now - timedelta(seconds=rng.uniform(0, 86_000))
            state = STATES[i % len(STATES)]
            ran = state in ("succeeded", "failed", "running")
            start = created + timedelta(seconds=rng.expovariate(1 / 5)) if ran else None
            end = start + timedelta(seconds=rng.expovariate(1 / 40)) if start and state != "running" else None
            batch.append(
                {
                    "id": uuid.uuid4(),
                    "org_id": org_id,
                    "workflow_id": ids[i % workflows],
                    "version_id": uuid.uuid4(),
                    "version_number": 1,
                    "workflow_name": f"Flow {i % workflows}",
                    "state": state,
                    "priority": 1,
                    "inputs": {},
                    "trigger": {"type": "manual"},
                    "trigger_type": "manual",
                    "attempt": 1,
                    "last_seq": 0,
                    "created_at": created,
                    "updated_at": created,
                    "queued_at": created,
                    "assigned_at": start,
                    "started_at": start,
                    "finished_at": end,
                }
            )
            if len(batch) == 5000:
                await session.execute(insert(Execution.__table__), batch)
                batch = []
        if batch:
            await session.execute(insert(Execution.__table__), batch)
    return org_id


def _nearest(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * percent / 100) - 1]


async def _rows_peer(db: Database, org_id: uuid.UUID, period: service.Period) -> dict[str, Any]:
    columns = (
        Execution.workflow_id,
        Execution.state,
        Execution.created_at,
        Execution.queued_at,
        Execution.assigned_at,
        Execution.started_at,
        Execution.finished_at,
    )
    async with db.sessions() as session:
        rows = (
            await session.execute(
                select(*columns).where(
                    Execution.org_id == org_id,
                    Execution.created_at >= period.since,
                    Execution.created_at < period.until,
                )
            )
        ).all()
    buckets: dict[tuple[datetime, str], int] = defaultdict(int)
    durations: dict[uuid.UUID, list[float]] = defaultdict(list)
    waits: list[float] = []
    for workflow_id, state, created, queued, assigned, started, finished in rows:
        buckets[(created.replace(minute=0, second=0, microsecond=0), state)] += 1
        if started and finished:
            durations[workflow_id].append((finished - started).total_seconds())
        if queued and assigned:
            waits.append((assigned - queued).total_seconds())
    return {
        "total": len(rows),
        "p95": {str(k): _nearest(v, 95) for k, v in durations.items()},
        "wait_p95": _nearest(waits, 95),
    }


async def _best(repeat: int, job: Any) -> tuple[float, float, Any]:
    best, peak, result = math.inf, 0.0, None
    for _ in range(repeat):
        tracemalloc.start()
        started = time.perf_counter()
        result = await job()
        best = min(best, time.perf_counter() - started)
        peak = max(peak, tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return best, peak, result


async def _measure(size: int, workflows: int, repeat: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="rpa-bench-dashboard-"))
    url = f"sqlite+aiosqlite:///{folder / 'orchestrator.db'}"
    await upgrade(url)
    db = Database(url)
    try:
        now = datetime.now(UTC)
        org_id = await _seed(db, size, workflows, now)
        period = service.Period.of(now - timedelta(days=1), now + timedelta(seconds=1), "hour", now)

        async def aggregate() -> Any:
            async with db.sessions() as session:
                return await service.dashboard(session, org_id, period, status_of=lambda _a: None, now=now)

        agg_s, agg_mib, figures = await _best(repeat, aggregate)
        peer_s, peer_mib, peer = await _best(repeat, lambda: _rows_peer(db, org_id, period))
    finally:
        await db.dispose()
    assert figures.total == peer["total"] == size, (figures.total, peer["total"], size)
    for w in figures.workflows:
        expected = peer["p95"].get(str(w.workflow_id))
        assert expected is None or abs((w.p95_seconds or 0) - expected) < 0.01, (w.name, w.p95_seconds, expected)
    return {
        "size": size,
        "aggregate_s": round(agg_s, 3),
        "aggregate_peak_mib": round(agg_mib, 1),
        "rows_s": round(peer_s, 3),
        "rows_peak_mib": round(peer_mib, 1),
        "ratio": round(peer_s / agg_s, 2) if agg_s else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dashboard.json")
    args = parser.parse_args()
    results = [asyncio.run(_measure(int(s), args.workflows, args.repeat)) for s in args.sizes.split(",")]
    print(f"{'executions':>10} {'aggregate s':>12} {'MiB':>6} {'rows (peer) s':>14} {'MiB':>6} {'ratio':>6}")
    for r in results:
        print(
            f"{r['size']:>10} {r['aggregate_s']:>12} {r['aggregate_peak_mib']:>6} "
            f"{r['rows_s']:>14} {r['rows_peak_mib']:>6} {r['ratio']:>6}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"database": "sqlite", "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
