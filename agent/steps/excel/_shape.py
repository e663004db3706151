"""From rows of cells to the table value: ranges, header, typed cells, empty rows trimmed.

Shared by the fast reader (python-calamine), the streaming reader (our own sheet XML parser)
and the CSV reader, so the three give the same table for the same data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from shared.tables import Row, RowStream

from ._common import normalise_header

_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?([1-9][0-9]{0,6})$")


def column_index(letters: str) -> int:
    """0-based index of a column name (`A` -> 0, `AA` -> 26)."""
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - 64)
    return index - 1


def column_letters(index: int) -> str:
    """The column name of a 0-based index (0 -> `A`)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def parse_cell(ref: str) -> tuple[int, int]:
    """(row, column), 0-based, of a reference like `B3` or `$B$3`.

    Raises:
        ValueError: not a cell reference.
    """
    match = _CELL.match(ref.strip())
    if not match:
        raise ValueError(f"'{ref}' is not a cell reference like B3")
    return int(match.group(2)) - 1, column_index(match.group(1))


@dataclass(frozen=True, slots=True)
class CellRange:
    """A rectangle of cells, 0-based and inclusive; `None` ends are open (to the sheet's end)."""

    first_row: int = 0
    first_col: int = 0
    last_row: int | None = None
    last_col: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> CellRange:
        """`A1:D20`, or `B3` (from B3 to the end of the sheet), or None (the whole sheet).

        Raises:
            ValueError: not a range (the params validator turns it into a validation error).
        """
        if not text:
            return cls()
        start, _, end = text.partition(":")
        first_row, first_col = parse_cell(start)
        if not end:
            return cls(first_row, first_col)
        last_row, last_col = parse_cell(end)
        if last_row < first_row or last_col < first_col:
            raise ValueError(f"range '{text}' ends before it starts")
        return cls(first_row, first_col, last_row, last_col)

    def columns(self, cells: list[Any]) -> list[Any]:
        """The part of a row inside the range."""
        if self.first_col == 0 and self.last_col is None:
            return cells
        stop = None if self.last_col is None else self.last_col + 1
        return cells[self.first_col : stop]


def cell_value(value: Any) -> Any:
    """A cell as the table holds it: empty text -> None, whole floats -> int, dates -> ISO text."""
    if value == "" or value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds.is_integer() else seconds
    return value


_LIMIT = 2**53
_DATES = frozenset([dt.date, dt.datetime, dt.time])


def converted_cells(raw: Iterable[Any]) -> list[Any]:
    """`cell_value` over a row, inlined for the common types (no call per cell: this is the
    hot loop of every read)."""
    return [
        (int(value) if value.is_integer() and -_LIMIT < value < _LIMIT else value)
        if type(value) is float
        else (value or None)
        if type(value) is str
        else value
        if value is None or type(value) is int or type(value) is bool
        else value.isoformat()
        if type(value) in _DATES
        else cell_value(value)
        for value in raw
    ]


def _trim(cells: list[Any]) -> list[Any]:
    """Drop trailing empty cells, in place."""
    while cells and cells[-1] is None:
        cells.pop()
    return cells


def _rows_in_range(rows: Iterable[tuple[int, list[Any]]], area: CellRange, converted: bool) -> Iterator[list[Any]]:
    """The non-empty rows inside `area`, cells converted; (row index, raw cells) in, sorted by row."""
    whole = area.first_col == 0 and area.last_col is None
    if whole and area.first_row == 0 and area.last_row is None and converted:
        yield from _non_empty(raw for _, raw in rows)
        return
    for index, raw in rows:
        if index < area.first_row:
            continue
        if area.last_row is not None and index > area.last_row:
            break
        cells = raw if whole else area.columns(raw)
        if not converted:
            cells = converted_cells(cells)
        if cells and cells[-1] is None:
            _trim(cells)
        if cells:
            yield cells


def _non_empty(rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    """`_rows_in_range` for a whole sheet of converted cells: the loop of every plain read."""
    for cells in rows:
        if cells and cells[-1] is None:
            _trim(cells)
        if cells:
            yield cells


def to_table(
    rows: Iterable[tuple[int, list[Any]]],
    *,
    header: bool,
    area: CellRange,
    offset: int = 0,
    limit: int | None = None,
    on_close: Callable[[], None] | None = None,
    converted: bool = False,
    leading: bool = False,
) -> RowStream:
    """A `RowStream` of the table in `rows` (lazily: the rows are read as the stream is).

    With `header`, the first non-empty row names the columns; cells right of its last name, and
    with `leading` false cells left of its first, are not part of the table. Without `header`,
    columns are `column_1`, `column_2`... Empty rows are dropped; `offset` and `limit` count
    data rows. A sheet without rows is a table without rows. `converted`: the cells are
    already in table form (`cell_value` is skipped).
    """
    cells = _rows_in_range(rows, area, converted)
    names: list[str] = []
    if header:
        first = next(cells, None) or []
        # On a sheet, empty cells left of the first name are not part of the table; in a CSV
        # an unnamed first column (an index column) is.
        lead = 0 if leading else next((i for i, value in enumerate(first) if value is not None), 0)
        names = normalise_header(first[lead:])
        cells = _within(cells, lead, len(names)) if lead else cells
    return RowStream(names, _rows(cells, names, offset, limit), on_close=on_close)


def _within(cells: Iterator[list[Any]], lead: int, width: int) -> Iterator[list[Any]]:
    """Rows cut to the header's columns when the table starts right of the first column."""
    for values in cells:
        values = _trim(values[lead : lead + width])
        if values:
            yield values


def _rows(cells: Iterator[list[Any]], names: list[str], offset: int, limit: int | None) -> Iterator[Row]:
    width = len(names)
    if width and not offset and limit is None:
        yield from _all_rows(cells, names)
        return
    position = count = 0
    for values in cells:
        if width and len(values) > width:
            # Cells right of the header's last name are not part of the table.
            values = _trim(values[:width])
            if not values:
                continue
        position += 1
        if position <= offset:
            continue
        if limit is not None and count >= limit:
            return
        count += 1
        if width:
            yield dict(
                zip(names, values if len(values) == width else values + [None] * (width - len(values)), strict=False)
            )
        else:
            yield {f"column_{i}": value for i, value in enumerate(values, start=1)}


def _all_rows(cells: Iterator[list[Any]], names: list[str]) -> Iterator[Row]:
    """`_rows` without offset and limit (the loop of every plain read): one dict per row, rows
    as wide as the header going straight to `dict(zip(...))`."""
    width = len(names)
    for values in cells:
        if len(values) != width:
            if len(values) > width:
                # Cells right of the header's last name are not part of the table.
                values = _trim(values[:width])
                if not values:
                    continue
            values = values + [None] * (width - len(values))
        yield dict(zip(names, values, strict=True))
