"""Reading workbooks: `excel.read`, `excel.sheets`, `excel.find`, and `read_rows` for Python callers.

The default reader is python-calamine (fast; `.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods`; holds
one sheet in memory). `stream=True` uses `_stream.SheetXml`, whose memory does not grow with
the number of rows (`.xlsx`/`.xlsm`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from agent.steps._storage_io import storage_credential_field, storage_path
from shared.errors import BusinessError
from shared.steps import step
from shared.tables import RowStream, Table

from ._common import EXCEL_SUFFIXES, Params, calamine, collect, local_path, map_excel_errors, no_sheet
from ._read_columns import converted_rows, sheet_table
from ._shape import CellRange, cell_value, column_letters, to_table
from ._stream import SheetXml

_PATH = "The workbook (.xlsx, .xlsm, .xls, .xlsb or .ods): a local path or a storage URL (s3://, sftp://, ...)."
_SHEET = "Sheet name; empty for the first sheet."


def _valid_range(value: str | None) -> str | None:
    CellRange.parse(value)
    return value


class _Calamine:
    """A workbook opened with python-calamine, closed by `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.book = calamine().CalamineWorkbook.from_path(str(path))

    @property
    def sheet_names(self) -> list[str]:
        return list(self.book.sheet_names)

    def grid(self, sheet: str | None) -> list[list[Any]]:
        names = self.sheet_names
        name = sheet if sheet is not None else names[0]
        if name not in names:
            raise no_sheet(self.path, name, names)
        grid: list[list[Any]] = self.book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        return grid

    def raw_rows(self, sheet: str | None) -> Iterator[list[Any]]:
        """The sheet's rows as calamine gives them (empty cells are ""), from column A."""
        # iter_rows converts one row at a time (a third less peak memory than to_python). Its
        # rows start at row 1 but at the sheet's first used column: pad them back to column A.
        names = self.sheet_names
        name = sheet if sheet is not None else names[0]
        if name not in names:
            raise no_sheet(self.path, name, names)
        worksheet = self.book.get_sheet_by_name(name)
        start = worksheet.start
        pad = [""] * start[1] if start else []
        rows: Iterator[list[Any]] = worksheet.iter_rows()
        return (pad + row for row in rows) if pad else rows

    def rows(self, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
        """(row index, cells in table form), every row of the sheet."""
        return enumerate(converted_rows(self.raw_rows(sheet)))

    def close(self) -> None:
        self.book.close()


def read_rows(
    path: str | Path,
    sheet: str | None = None,
    *,
    header: bool = True,
    cell_range: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    stream: bool = False,
) -> RowStream:
    """A sheet as a `RowStream` (close it, or read it to the end, to release the file).

    Args:
        path: the workbook.
        sheet: the sheet name; None for the first sheet.
        header: the first non-empty row names the columns.
        cell_range: `A1:D20`, `B3` (from B3 on) or None (the whole sheet).
        offset: data rows to skip.
        limit: at most this many data rows.
        stream: parse the sheet XML row by row (memory flat in rows; `.xlsx`/`.xlsm` only).

    Raises:
        BusinessError: missing or corrupt file, unknown sheet (listing the sheets), bad range.
    """
    file = local_path(str(path))
    area = CellRange.parse(cell_range)
    if stream and file.suffix.lower() not in EXCEL_SUFFIXES:
        raise BusinessError(
            f"{file.name}: stream mode reads .xlsx and .xlsm files; read a {file.suffix} file without stream",
            kind="validation",
        )
    with map_excel_errors(file):
        book: SheetXml | _Calamine = SheetXml(file) if stream else _Calamine(file)
        try:
            if isinstance(book, _Calamine) and header and area == CellRange():
                return sheet_table(book.raw_rows(sheet), offset, limit, book.close)
            rows = book.rows(sheet)
            return to_table(
                _guarded(file, rows) if stream else rows,
                header=header,
                area=area,
                offset=offset,
                limit=limit,
                on_close=book.close,
                converted=True,
            )
        except BaseException:
            book.close()
            raise


def _guarded(path: Path, rows: Iterator[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """Errors met while the rows are read lazily (streaming) cross the same boundary."""
    with map_excel_errors(path):
        yield from rows


class ReadParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    sheet: str | None = Field(default=None, description=_SHEET)
    range: str | None = Field(default=None, description="Cells to read: 'A1:D20', or 'B3' for B3 to the end.")
    header: bool = Field(default=True, description="The first non-empty row names the columns.")
    offset: int = Field(default=0, ge=0, description="Data rows to skip (after the header).")
    limit: int | None = Field(default=None, ge=0, description="At most this many data rows.")
    stream: bool = Field(
        default=False,
        description="Read row by row with memory flat in the number of rows (.xlsx/.xlsm); "
        "with offset and limit, pages through files too large to load.",
    )

    _range = field_validator("range")(_valid_range)


@step(
    "excel.read", params=ReadParams, output="The rows as a table (list of objects).", capability="office", effects=False
)
@storage_path("read")
def excel_read(params: ReadParams) -> Table:
    """Read a sheet or a range as a table.

    Numbers stay numbers, dates and times become ISO 8601 text, empty rows are dropped.
    Formulas give their last computed value (none when the file was never opened in Excel).

    Example node: `{"type": "excel.read", "params": {"path": "in/orders.xlsx", "sheet": "Orders"}}`.
    """
    with read_rows(
        params.path,
        params.sheet,
        header=params.header,
        cell_range=params.range,
        offset=params.offset,
        limit=params.limit,
        stream=params.stream,
    ) as rows:
        return collect(rows)


class SheetsParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()


@step(
    "excel.sheets",
    params=SheetsParams,
    output="The sheet names, in workbook order.",
    effects=False,
    capability="office",
)
@storage_path("read")
def excel_sheets(params: SheetsParams) -> list[str]:
    """List the sheets of a workbook.

    Example node: `{"type": "excel.sheets", "params": {"path": "in/orders.xlsx"}}`.
    """
    file = local_path(params.path)
    with map_excel_errors(file):
        book = _Calamine(file)
        try:
            return book.sheet_names
        finally:
            book.close()


class FindParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    value: Any = Field(description="The value to look for (text, number or boolean).")
    sheet: str | None = Field(default=None, description="Sheet to search; empty searches every sheet.")
    match: Literal["exact", "contains", "case_insensitive"] = Field(
        default="exact", description="exact: equal values; contains / case_insensitive: text comparison."
    )
    limit: int | None = Field(default=None, ge=1, description="Stop after this many matches.")


def _matches(cell: Any, wanted: Any, how: str) -> bool:
    if cell is None:
        return False
    if how == "exact":
        # True == 1 in Python; a search for 1 must not find TRUE cells.
        return cell is wanted if isinstance(cell, bool) or isinstance(wanted, bool) else bool(cell == wanted)
    text, needle = str(cell), str(wanted)
    if how == "contains":
        return needle in text
    return text.casefold() == needle.casefold()


def _search(book: _Calamine, names: list[str], params: FindParams) -> Iterator[dict[str, Any]]:
    for name in names:
        for r, raw in enumerate(book.grid(name)):
            for c, value in enumerate(raw):
                cell = cell_value(value)
                if _matches(cell, params.value, params.match):
                    yield {
                        "sheet": name,
                        "cell": f"{column_letters(c)}{r + 1}",
                        "row": r + 1,
                        "column": c + 1,
                        "value": cell,
                    }


@step(
    "excel.find",
    params=FindParams,
    output="Matches: [{sheet, cell, row, column, value}], row/column 1-based.",
    capability="office",
    effects=False,
)
@storage_path("read")
def excel_find(params: FindParams) -> list[dict[str, Any]]:
    """Find the cells holding a value.

    Example node: `{"type": "excel.find", "params": {"path": "in/orders.xlsx", "value": "Total"}}`.
    """
    file = local_path(params.path)
    with map_excel_errors(file):
        book = _Calamine(file)
        try:
            names = [params.sheet] if params.sheet is not None else book.sheet_names
            return list(itertools.islice(_search(book, names, params), params.limit))
        finally:
            book.close()
