"""Database values as table cells: the same JSON in a fresh run and after a resume."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def cell(value: Any) -> Any:
    """A JSON-ready cell: dates and times as ISO 8601, Decimal as a number, bytes as base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list | tuple):
        return [cell(item) for item in value]
    if isinstance(value, dict):
        return {str(k): cell(v) for k, v in value.items()}
    return str(value)


def row_dict(keys: list[str], row: Any) -> dict[str, Any]:
    """One result row as a table row (column order kept)."""
    return {key: cell(value) for key, value in zip(keys, row, strict=True)}


def _parser(kind: type) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return Decimal(str(value)) if kind is Decimal and isinstance(value, int | float) else value
        if kind is Decimal:
            return Decimal(value)
        return kind.fromisoformat(value)  # type: ignore[attr-defined]

    return parse


def converter(column_type: Any) -> Callable[[Any], Any]:
    """How a table cell becomes a value for a column of `column_type`: ISO strings become dates
    and times (strict drivers such as asyncpg refuse strings for DATE), numbers Decimal."""
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return lambda value: value
    if python_type in (dt.datetime, dt.date, dt.time, Decimal):
        return _parser(python_type)
    return lambda value: value
