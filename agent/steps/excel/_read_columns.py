"""Cells of python-calamine rows put in table form a column at a time.

Converting cell by cell (`_shape.cell_value`) costs a Python branch chain per cell, which made
the conversion most of what `excel.read` adds to calamine itself. A column of a sheet usually
holds one type, so the rows are taken in blocks, turned into columns, and each column's types
are looked at once (`set(map(type, column))`, a loop in C): a column of whole floats becomes
ints with `map(int, ...)`, a column of dates becomes ISO text with `map(date.isoformat, ...)`,
a column of text without empty cells is kept as it is. Only a column mixing types (the header
row's block, a column with empty cells) falls back to the per-cell conversion. The result is
the same as `cell_value` on every cell (pinned by a test against the per-cell path).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from shared.tables import Row, RowStream

from ._common import normalise_header
from ._shape import CellRange, converted_cells, to_table

BLOCK = 2048
"""Rows converted together: large enough that the per-column work is amortised, small enough
that a block's columns stay a small copy next to the sheet calamine holds."""

_LIMIT = 2**53
"""Whole floats at or above this size stay floats (an int would claim precision there is not)."""

Column = Sequence[Any]


def _floats(column: Column) -> Column:
    if all(map(float.is_integer, column)):
        if min(column) > -_LIMIT and max(column) < _LIMIT:
            return list(map(int, column))
    elif not any(map(float.is_integer, column)):
        return column  # NaN and infinities are not whole: they stay floats, as per cell
    return converted_cells(column)


def _texts(column: Column) -> Column:
    # Empty cells come from calamine as "": the table holds None for them.
    return converted_cells(column) if "" in column else column


def _isoformat(method: Callable[[Any], str]) -> Callable[[Column], Column]:
    def convert(column: Column) -> Column:
        return list(map(method, column))

    return convert


def _same(column: Column) -> Column:
    return column


_BY_TYPE: dict[type, Callable[[Column], Column]] = {
    float: _floats,
    str: _texts,
    int: _same,
    bool: _same,
    type(None): _same,
    dt.date: _isoformat(dt.date.isoformat),
    dt.datetime: _isoformat(dt.datetime.isoformat),
    dt.time: _isoformat(dt.time.isoformat),
}


def _column(column: Column) -> Column:
    kinds = set(map(type, column))
    if len(kinds) == 1:
        convert = _BY_TYPE.get(kinds.pop())
        if convert is not None:
            return convert(column)
    return converted_cells(column)


def _block(rows: list[list[Any]]) -> list[list[Any]]:
    if len(set(map(len, rows))) != 1:
        return [converted_cells(row) for row in rows]
    return list(map(list, zip(*map(_column, zip(*rows, strict=True)), strict=True)))


def _dicts(block: list[list[Any]], names: list[str]) -> Iterator[Row]:
    """A block of raw rows as table rows: `dict(zip(names, row))` built in C when every cell
    under the header holds a value (no row can be empty or short); else row by row."""
    width = len(names)
    if len(set(map(len, block))) == 1 and len(block[0]) >= width:
        columns = [_column(column) for column in itertools.islice(zip(*block, strict=True), width)]
        if not any(None in column for column in columns):
            return map(dict, map(zip, itertools.repeat(names), zip(*columns, strict=True)))
        rows = list(map(list, zip(*columns, strict=True)))
    else:
        rows = [converted_cells(row) for row in block]
    return _row_dicts(rows, names)


def _row_dicts(rows: list[list[Any]], names: list[str]) -> Iterator[Row]:
    width = len(names)
    for row in rows:
        cells = row[:width]
        while cells and cells[-1] is None:
            cells.pop()
        if cells:
            yield dict(zip(names, cells + [None] * (width - len(cells)), strict=True))


def _header(source: Iterator[list[Any]]) -> list[Any] | None:
    for raw in source:
        cells = converted_cells(raw)
        while cells and cells[-1] is None:
            cells.pop()
        if cells:
            return cells
    return None


def sheet_table(rows: Iterable[list[Any]], offset: int, limit: int | None, on_close: Callable[[], None]) -> RowStream:
    """The table of a whole sheet whose first non-empty row names the columns, from calamine's
    raw rows (the same table as `_shape.to_table` over converted rows), read lazily."""
    source = iter(rows)
    first = _header(source) or []
    if first and first[0] is None:
        # The table starts right of column A: the general path cuts every row.
        return to_table(
            enumerate(converted_rows(itertools.chain([first], source))),
            header=True,
            area=CellRange(),
            offset=offset,
            limit=limit,
            on_close=on_close,
            converted=True,
        )
    names = normalise_header(first)
    table = itertools.chain.from_iterable(map(_dicts, _blocks(source), itertools.repeat(names)))
    stop = None if limit is None else offset + limit
    return RowStream(names, itertools.islice(table, offset, stop), on_close=on_close)


def _blocks(source: Iterator[list[Any]]) -> Iterator[list[list[Any]]]:
    while block := list(itertools.islice(source, BLOCK)):
        yield block


def converted_rows(rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    """The rows with every cell as the table holds it (see `_shape.cell_value`), lazily, a block
    of rows at a time."""
    for block in _blocks(iter(rows)):
        yield from _block(block)
