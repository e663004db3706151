"""Executions as plain records, for the writers that move many of them per transaction.

The agent writer and the dispatcher lock a handful of executions, move their states and
counters, and commit. Loading ORM objects for that (identity map, instance state, attribute
events) and letting the unit of work find and write what changed costs more than the
statements themselves. Here the rows are read with one Core SELECT into `ExecutionRecord`s,
which remember which columns were assigned, and `write_records` sends the changes back as one
UPDATE by id per set of changed columns (executemany).

A record has the attributes of `Execution` that were read; one that was not read (the JSON
columns a writer never looks at) raises AttributeError when read, and is written when
assigned. `transition()` and the journal work on records and ORM objects alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, Select, Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models.executions import PRIORITIES, Execution

_TABLE = cast(Table, Execution.__table__)
_ALL = tuple(column.key for column in _TABLE.columns)


class ExecutionRecord:
    """One execution row's values; assignments are remembered until `write_records`."""

    __slots__ = (*_ALL, "_changed")

    id: uuid.UUID
    org_id: uuid.UUID
    workflow_id: uuid.UUID
    version_id: uuid.UUID
    version_number: int
    workflow_name: str
    state: str
    priority: int
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    trigger: dict[str, Any]
    trigger_type: str
    created_by: uuid.UUID | None
    credentials: list[str] | None
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None
    assigned_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    cancel_requested_at: datetime | None
    agent_id: uuid.UUID | None
    previous_agent_id: uuid.UUID | None
    attempt: int
    last_seq: int
    stored_seq: int
    history_seq: int
    parent_execution_id: uuid.UUID | None
    resume_from: uuid.UUID | None
    _changed: dict[str, Any]

    def __init__(self, keys: Sequence[str], values: Sequence[Any]) -> None:
        put = object.__setattr__
        for key, value in zip(keys, values, strict=True):
            put(self, key, value)
        put(self, "_changed", {})

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        self._changed[name] = value

    @property
    def priority_name(self) -> str:
        return PRIORITIES[self.priority]

    def values(self) -> dict[str, Any]:
        """Every column's value (a new record's, for its INSERT)."""
        return {key: getattr(self, key) for key in _ALL}

    def __repr__(self) -> str:
        return f"<ExecutionRecord {getattr(self, 'id', '?')} {getattr(self, 'state', '?')}>"


def _default(column: Column[Any]) -> Any:
    default = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg  # type: ignore[attr-defined]


def new_record(**values: Any) -> ExecutionRecord:
    """A new execution (not stored yet) with every column: those not given at their defaults, as
    the INSERT would store them."""
    unknown = set(values) - set(_ALL)
    if unknown:
        raise TypeError(f"executions has no column {sorted(unknown)}")
    return ExecutionRecord(
        _ALL, [values[column.key] if column.key in values else _default(column) for column in _TABLE.columns]
    )


def columns_except(*unread: str) -> tuple[Column[Any], ...]:
    """The execution table's columns without `unread` (names), in table order."""
    unknown = set(unread) - set(_ALL)
    if unknown:
        raise ValueError(f"executions has no column {sorted(unknown)}")
    return tuple(column for column in _TABLE.columns if column.key not in unread)


async def read_records(session: AsyncSession, statement: Select[Any], params: dict[str, Any]) -> list[ExecutionRecord]:
    """Run `statement` (a SELECT of execution columns, e.g. `columns_except(...)`) and return its
    rows as records."""
    result = await session.execute(statement, params)
    keys = tuple(result.keys())
    return [ExecutionRecord(keys, row) for row in result.all()]


AnyExecution = Execution | ExecutionRecord
"""What `transition()` and the journal work on."""


_BY_ID = update(_TABLE).where(_TABLE.c.id == bindparam("_record_id"))
"""The SET clause comes from each parameter set's keys; one statement per set of changed columns."""


async def write_records(session: AsyncSession, records: Iterable[ExecutionRecord]) -> int:
    """Write what was assigned on `records` since they were read (or last written); returns how
    many rows were updated."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for record in records:
        changed = record._changed
        if not changed:
            continue
        groups.setdefault(tuple(sorted(changed)), []).append({"_record_id": record.id, **changed})
        object.__setattr__(record, "_changed", {})
    for rows in groups.values():
        await session.execute(_BY_ID, rows)
    return sum(len(rows) for rows in groups.values())
