"""One event, one execution: how every trigger kind starts its workflow.

`Firer.fire(spec, key, payload)` maps the inputs from `{"event": payload}` with the shared
expression engine, builds the start (`services/executions.prepare_start`, reads only) and hands
it to the start writer with the event's `trigger_events` row: both are inserted in one
transaction, and the row's `(trigger_id, key)` is unique, so a repeated key stores nothing and
answers with the first execution (the writer's unit fails alone; the row is read back). An event
that cannot start (a mapping error, a workflow with no published version, inputs the flow
refuses) is stored with outcome `failed` and the reason, and counted in the trigger's state;
nothing is raised to the source.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import new_id, utcnow
from orchestrator.db.read_cache import ReadCache
from orchestrator.db.session import Database, release
from orchestrator.errors import ApiError
from orchestrator.models.triggers import Trigger, TriggerEvent
from orchestrator.services import executions as execution_service
from orchestrator.services.audit import Actor
from orchestrator.services.start_writer import StartWriter
from shared.expressions import ExpressionError, compile_value

log = logging.getLogger("rpa.orchestrator.triggers")

MAX_KEY = 500
_EVENTS = cast(Table, TriggerEvent.__table__)


@dataclass(frozen=True)
class TriggerSpec:
    """What firing a trigger needs from its row (a snapshot: the row may change meanwhile)."""

    id: uuid.UUID
    org_id: uuid.UUID
    workflow_id: uuid.UUID
    kind: str
    name: str
    config: dict[str, Any]
    inputs: dict[str, Any]
    version: int | None
    enabled: bool = True
    created_at: datetime | None = None
    cursor: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Trigger) -> TriggerSpec:
        return cls(
            row.id,
            row.org_id,
            row.workflow_id,
            row.kind,
            row.name,
            dict(row.config or {}),
            dict(row.inputs or {}),
            row.version,
            row.enabled,
            row.created_at,
            dict(row.cursor or {}),
        )

    @property
    def fingerprint(self) -> str:
        """What a running task depends on: a change restarts it (state columns do not)."""
        return json.dumps([self.kind, self.name, self.config, self.inputs, self.version], sort_keys=True, default=str)

    @property
    def actor(self) -> Actor:
        return Actor(None, f"trigger '{self.name}' ({self.kind})")


@dataclass(frozen=True)
class Fired:
    """What an event became."""

    outcome: str
    """`started`, `filtered`, `refused` or `failed`."""
    execution_id: uuid.UUID | None = None
    new: bool = True
    """False: the key was seen before; this is the first event's answer."""
    error: str | None = None


class Firer:
    """Stores events with their executions (see the module docstring)."""

    def __init__(self, db: Database, writer: StartWriter, pins: ReadCache | None = None) -> None:
        self.db = db
        self.writer = writer
        self.pins = pins

    async def fire(
        self, spec: TriggerSpec, key: str, payload: dict[str, Any], *, seen: bool = True, source: str | None = None
    ) -> Fired:
        """Start `spec`'s workflow for the event `key` once.

        Args:
            spec: The trigger.
            key: The event's key, unique per trigger (at most 500 characters).
            payload: What the input mapping reads as `event`.
            seen: Whether the key may have been stored before (False for a fresh random key:
                the look-up is skipped, the unique constraint still holds).
            source: The trigger type recorded on the execution (default: the trigger's kind).
        """
        key = key[:MAX_KEY]
        if seen:
            known = await self.known(spec.id, key)
            if known is not None:
                return known
        try:
            inputs = map_inputs(spec.inputs, payload)
        except MappingError as exc:
            return await self.record(spec, key, "failed", error=str(exc))
        session = self.db.sessions()
        try:
            new = await execution_service.prepare_start(
                session,
                org_id=spec.org_id,
                actor=spec.actor,
                workflow_id=spec.workflow_id,
                version=spec.version,
                inputs=inputs,
                trigger=source or spec.kind,
                trigger_data={"trigger_id": str(spec.id), "trigger_name": spec.name, "key": key},
                cache=self.pins,
                role=None,
            )
        except ApiError as exc:
            return await self.record(spec, key, "failed", error=exc.message)
        finally:
            await release(session)
        new = replace(new, event=event_row(spec, key, "started", new.execution.id))
        try:
            stored = await self.writer.submit(new)
        except IntegrityError:
            known = await self.known(spec.id, key)
            if known is None:
                raise
            return known
        return Fired("started", stored.id)

    async def known(self, trigger_id: uuid.UUID, key: str) -> Fired | None:
        """What the event `key` became, if it was stored."""
        session = self.db.sessions()
        try:
            row = (
                await session.execute(
                    select(TriggerEvent.outcome, TriggerEvent.execution_id, TriggerEvent.error).where(
                        TriggerEvent.trigger_id == trigger_id, TriggerEvent.key == key
                    )
                )
            ).first()
        finally:
            await release(session)
        if row is None:
            return None
        return Fired(row.outcome, row.execution_id, new=False, error=row.error)

    async def record(self, spec: TriggerSpec, key: str, outcome: str, *, error: str | None = None) -> Fired:
        """Store an event that started nothing (`filtered`, `refused`, `failed`) once."""
        try:
            async with self.db.transaction() as session:
                await session.execute(_EVENTS.insert(), [event_row(spec, key[:MAX_KEY], outcome, None, error)])
                if outcome in ("failed", "refused"):
                    await note_error(session, spec.id, error or outcome, refused=outcome == "refused")
        except IntegrityError:
            known = await self.known(spec.id, key[:MAX_KEY])
            if known is not None:
                return known
            raise
        if outcome == "failed":
            log.warning("trigger %s: event %r started nothing: %s", spec.id, key, error)
        return Fired(outcome, None, error=error)


def event_row(
    spec: TriggerSpec, key: str, outcome: str, execution_id: uuid.UUID | None, error: str | None = None
) -> dict[str, Any]:
    """A `trigger_events` row (every column)."""
    return {
        "id": new_id(),
        "org_id": spec.org_id,
        "trigger_id": spec.id,
        "key": key,
        "received_at": utcnow(),
        "outcome": outcome,
        "execution_id": execution_id,
        "error": error[:1000] if error else None,
    }


async def note_error(session: AsyncSession, trigger_id: uuid.UUID, message: str, *, refused: bool = False) -> None:
    """Record a failure in the trigger's state (`last_error`, its time, and the refused count)."""
    values: dict[str, Any] = {"last_error": message[:1000], "last_error_at": utcnow()}
    if refused:
        values["refused_count"] = Trigger.refused_count + 1
    await session.execute(update(Trigger).where(Trigger.id == trigger_id).values(**values))


class MappingError(ValueError):
    """An input mapping failed; the message names the input (`inputs.customer: …`)."""


def map_inputs(mapping: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The execution's inputs: each of `mapping`'s values rendered against `{"event": payload}`.

    Raises:
        MappingError: naming the input whose expression failed and why.
    """
    scope = {"event": payload}
    inputs: dict[str, Any] = {}
    for name, value in mapping.items():
        try:
            inputs[name] = compile_value(value)(scope)
        except ExpressionError as exc:
            raise MappingError(f"inputs.{name}: {exc.message}") from None
    return inputs
