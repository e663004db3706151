"""The declarative base and the columns every row shares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import uuid6
from sqlalchemy import DateTime, Dialect, ForeignKey, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations written on SQLite apply to PostgreSQL unchanged.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone; SQLite keeps no zone at all and hands back naive values. Converting
    on the way in and tagging on the way out gives every caller one kind of datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp.astimezone(UTC) if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), uuid.UUID: Uuid()}


def new_id() -> uuid.UUID:
    """A row id that grows with time: a version 7 UUID (RFC 9562; 48 bits of milliseconds, then 74
    random bits). Rows inserted together sit together in their primary-key index and in the
    indexes of the rows that refer to them (an execution's events, keyed by its id), so a
    transaction's inserts touch a few index pages at the right edge instead of one random page
    per row, which costs several times less CPU per row (bench/README.md). Within a process the ids
    only grow: when they come faster than one per millisecond, `uuid6` moves the milliseconds on,
    so they are an order, not a clock."""
    return uuid6.uuid7()


class UuidMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SoftDeleteMixin:
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class TenantMixin:
    """Every tenant row names its organisation; every query filters on it."""

    @declared_attr
    def org_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
