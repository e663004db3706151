"""The table value every step family reads and writes, and its streaming form.

A table is a plain JSON list of objects::

    [{"name": "Ann", "amount": 12.5, "due": "2026-12-07"}, {"name": "Bob", "amount": 3, "due": None}]

- Columns are the keys of the rows, in the order of the first row; keys that only later rows
  have follow, in the order they first appear (`columns`).
- Numbers stay numbers (a `Decimal` becomes an int when whole, else a float), booleans stay
  booleans, empty cells are ``None``.
- Dates, datetimes and times are ISO 8601 strings (``2026-12-07``, ``2026-12-07T10:30:00``),
  so a value is the same in a fresh run and after a resume from the journal (`to_cell`).

Readers of large files produce a `RowStream` instead: an iterable of the same dicts with
`.columns`, consumed once, so a step can copy or filter a million rows without holding them.
Writers accept both. Only the standard library is used here: every family may import it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any

from shared.errors import BusinessError

__all__ = ["Row", "RowStream", "Table", "check_table", "columns", "rows_of", "to_cell", "to_row"]

Row = dict[str, Any]
Table = list[Row]


def columns(table: Iterable[Mapping[str, Any]]) -> list[str]:
    """The column names of a table: the first row's keys, then new keys of later rows.

    Args:
        table: the rows (a `RowStream` answers from its own `.columns` without being consumed).

    Returns:
        The names in order; empty for an empty table.
    """
    if isinstance(table, RowStream):
        return list(table.columns)
    seen: dict[str, None] = {}
    for row in table:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "text", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def check_table(value: Any, where: str) -> Table:
    """Check that `value` is a table and return it as a list of rows.

    Args:
        value: the param's value (a list of objects, or a `RowStream`, which is read fully).
        where: the step param it came from, named in the error (e.g. ``data.filter: table``).

    Returns:
        The rows (the same list when `value` is one).

    Raises:
        BusinessError: kind ``data``, naming `where` and the index of the first row that is not
            an object (or saying what the value is when it is not a list at all).
    """
    if isinstance(value, RowStream):
        return list(value)
    if not isinstance(value, list):
        raise BusinessError(
            f"{where} must be a table (a list of objects), got {_kind(value)}",
            kind="data",
            details={"param": where},
        )
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            raise BusinessError(
                f"{where} must be a table (a list of objects): row {index} is {_kind(row)}",
                kind="data",
                details={"param": where, "row": index},
            )
        for key in row:
            if not isinstance(key, str):
                raise BusinessError(
                    f"{where}: row {index} has a column name that is not text ({key!r})",
                    kind="data",
                    details={"param": where, "row": index},
                )
    return value


def to_cell(value: Any) -> Any:
    """A cell value in table form: JSON types stay, dates and times become ISO 8601 text.

    - `datetime` -> ``2026-12-07T10:30:00`` (microseconds and offset only when present);
    - `date` -> ``2026-12-07``; `time` -> ``10:30:00``;
    - `timedelta` -> seconds (a number);
    - `Decimal` -> int when whole, else float; NaN and infinities -> ``None`` (JSON has none);
    - bytes -> text (UTF-8, undecodable bytes replaced).
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds.is_integer() else seconds
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def to_row(names: Sequence[str], values: Sequence[Any]) -> Row:
    """One row from column names and cell values (converted by `to_cell`); missing cells are None."""
    row: Row = {}
    for index, name in enumerate(names):
        row[name] = to_cell(values[index]) if index < len(values) else None
    return row


class RowStream:
    """Rows read lazily from a file: iterate once, each item a table row (a dict).

    Example:
        with reader.stream("big.xlsx") as rows:
            print(rows.columns)
            total = sum(row["amount"] or 0 for row in rows)

    Args:
        columns: the column names, known before the first row is read.
        rows: the iterator of rows.
        on_close: called once by `close()` (e.g. to close the file); also after the last row.
    """

    def __init__(
        self,
        columns: Sequence[str],
        rows: Iterable[Row],
        *,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.columns: tuple[str, ...] = tuple(columns)
        self._rows: Iterator[Row] | None = iter(rows)
        self._on_close = on_close
        self._started = False

    @classmethod
    def of(cls, table: Sequence[Mapping[str, Any]]) -> RowStream:
        """A stream over rows already in memory (for writers that take either form)."""
        return cls(columns(table), (dict(row) for row in table))

    def __iter__(self) -> Iterator[Row]:
        if self._started:
            raise RuntimeError("a RowStream can be read only once")
        self._started = True
        return self._drain()

    def _drain(self) -> Iterator[Row]:
        try:
            if self._rows is not None:
                yield from self._rows
        finally:
            self.close()

    def close(self) -> None:
        """Release the file behind the stream; idempotent."""
        self._rows = None
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __enter__(self) -> RowStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def rows_of(value: Any, where: str) -> RowStream:
    """A `RowStream` over a table param or a stream, for writers that accept both.

    Raises:
        BusinessError: `value` is not a table (see `check_table`).
    """
    if isinstance(value, RowStream):
        return value
    return RowStream.of(check_table(value, where))
