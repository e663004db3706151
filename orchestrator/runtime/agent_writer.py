"""Group commit for what agents report: one transaction for the messages of many connections.

Every agent message that changes an execution (accepted, rejected, a journal batch, finished)
is a small unit of database work. Done one transaction each, the fixed cost of a transaction
and of loading the row dominates; here (`db/group_commit.py`) the units that arrive while
a transaction is being written wait for the next one, which locks all their executions with one
query and runs them in arrival order. A connection sends its next message only once the previous
one is answered, so the order of each agent's messages is kept.

A unit that raises (a journal that conflicts with the stored one, a state move the rules
refuse) is rolled back alone and its error reaches the connection that sent it. The work of a
unit is only database work, and its result is a plain value; what follows the commit (replies,
releasing a slot, the live view) the connection does with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.group_commit import GroupCommit
from orchestrator.models.execution_records import (
    ExecutionRecord,
    columns_except,
    read_records,
    write_records,
)
from orchestrator.models.executions import Execution

Rows = dict[uuid.UUID, ExecutionRecord]
Work = Callable[[AsyncSession, Rows], Awaitable[Any]]
"""Database work on the executions it names (locked and loaded into `Rows`); its result is handed
back to the caller once the transaction has committed."""


# What agents report never reads these JSON columns (it may set outputs and error), so they are
# not read at all; reading one by mistake raises at once.
_COLUMNS = columns_except("inputs", "trigger", "outputs", "error", "credentials")
_LOCK = (
    select(*_COLUMNS).where(Execution.id.in_(bindparam("ids", expanding=True))).order_by(Execution.id).with_for_update()
)
"""Built once: a batch runs it, so its cache key is computed once, not per batch."""


async def lock_executions(session: AsyncSession, ids: set[uuid.UUID]) -> Rows:
    """Load and lock the executions (in id order, so two batches never lock in opposite orders),
    as records: what the work assigns on them is written by `write_records`."""
    if not ids:
        return {}
    return {record.id: record for record in await read_records(session, _LOCK, {"ids": list(ids)})}


class AgentWriter(GroupCommit[tuple[uuid.UUID, Work]]):
    """The single writer of agent reports in this process: a unit is an execution id and the work
    on it; a batch locks all its executions with one query."""

    name = "agent-writer"

    async def submit(self, execution_id: uuid.UUID, work: Work) -> Any:
        """Run `work` in the next batch; returns its result once committed (or raises its error)."""
        return await self._submit((execution_id, work))

    async def _write_batch(self, session: AsyncSession, units: list[tuple[uuid.UUID, Work]]) -> list[Any]:
        rows = await lock_executions(session, {execution_id for execution_id, _ in units})
        # Every unit's row changes go out together after the last unit (an UPDATE per set of changed
        # columns, executemany), and the history and journal rows with the commit's flush. A unit's
        # reads go through `rows` or the journal's own statements, which do not need them written.
        with session.no_autoflush:
            results = [await work(session, rows) for _, work in units]
        await write_records(session, rows.values())
        return results
