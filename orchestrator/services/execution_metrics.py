"""The `rpa_executions{state=…}` gauge: executions by state, counted at scrape time.

Counting at scrape time (rather than adding and subtracting on each transition) gives the same
answer on every replica and survives restarts; one grouped count per scrape is cheap.
"""

from __future__ import annotations

import logging
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.db.session import Database
from orchestrator.models.executions import Execution
from orchestrator.services.execution_states import State

log = logging.getLogger("rpa.orchestrator")

_GAUGES: WeakKeyDictionary[CollectorRegistry, Gauge] = WeakKeyDictionary()


def _gauge(registry: CollectorRegistry) -> Gauge:
    gauge = _GAUGES.get(registry)
    if gauge is None:
        gauge = Gauge("rpa_executions", "Executions by state, all organisations", ["state"], registry=registry)
        _GAUGES[registry] = gauge
    return gauge


async def observe_executions(db: Database, registry: CollectorRegistry) -> None:
    """Set the gauge from the database; every state is present (0 when none), so series never vanish."""
    gauge = _gauge(registry)
    try:
        async with db.sessions() as session:
            counts = dict(
                (await session.execute(select(Execution.state, func.count()).group_by(Execution.state))).all()
            )
    except (SQLAlchemyError, OSError):
        # The scrape still serves the HTTP metrics; the gauge keeps its last values.
        log.warning("could not count executions for /metrics", exc_info=True)
        return
    for state in State:
        gauge.labels(state.value).set(counts.get(state.value, 0))
