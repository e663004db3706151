"""Writing tables: `excel.write` and `write_rows` for Python callers.

A new workbook is written with openpyxl's `write_only` mode (memory flat in rows, rows streamed
from a `RowStream`). An existing workbook is loaded, the sheet replaced or appended to, and
the other sheets kept as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.steps._storage_io import storage_credential_field, storage_path
from shared.steps import step
from shared.tables import RowStream, rows_of

from ._book import from_iso, load, save, writable_path
from ._common import Params, map_excel_errors, openpyxl


def _convert(value: Any, dates: bool) -> Any:
    if isinstance(value, dict | list):
        # Excel has no nested values: keep them readable as JSON-ish text.
        return str(value)
    return from_iso(value) if dates else value


def _text_cell(sheet: Any, value: str) -> Any:
    """A cell that shows `value` as text even when it starts with '=' (data, not a formula)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    return cell


def _row_values(sheet: Any, values: Iterable[Any], dates: bool) -> list[Any]:
    out = []
    for value in values:
        converted = _convert(value, dates)
        if isinstance(converted, str) and converted.startswith("="):
            out.append(_text_cell(sheet, converted))
        else:
            out.append(converted)
    return out


def _write_new(path: Path, rows: RowStream, sheet_name: str, header: bool, dates: bool) -> int:
    book = openpyxl().Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    names = list(rows.columns)
    if header and names:
        sheet.append(_row_values(sheet, names, dates=False))
    count = 0
    for row in rows:
        sheet.append(_row_values(sheet, (row.get(name) for name in names), dates))
        count += 1
    save(book, path)
    return count


def _header_of(sheet: Any) -> list[str]:
    if sheet.max_row < 1:
        return []
    first = [cell.value for cell in sheet[1]]
    while first and first[-1] is None:
        first.pop()
    return [str(value) if value is not None else "" for value in first]


def _put(sheet: Any, row: int, values: list[Any], dates: bool) -> None:
    for column, value in enumerate(values, start=1):
        converted = _convert(value, dates)
        cell = sheet.cell(row=row, column=column, value=converted)
        if isinstance(converted, str) and converted.startswith("="):
            cell.data_type = "s"


def _write_existing(path: Path, rows: RowStream, sheet_name: str, mode: str, header: bool, dates: bool) -> int:
    book = load(path)
    if sheet_name in book.sheetnames and mode == "replace":
        position = book.sheetnames.index(sheet_name)
        book.remove(book[sheet_name])
        book.create_sheet(sheet_name, position)
    sheet = book[sheet_name] if sheet_name in book.sheetnames else book.create_sheet(sheet_name)
    names = list(rows.columns)
    existing = _header_of(sheet) if header else []
    if header:
        # Appending matches columns by name; new columns are added to the right of the header.
        order = existing + [name for name in names if name not in existing]
        if order != existing:
            _put(sheet, 1, list(order), dates=False)
        names = order
    next_row = 1 if sheet.max_row == 1 and sheet.cell(1, 1).value is None else sheet.max_row + 1
    count = 0
    for row in rows:
        _put(sheet, next_row + count, [row.get(name) for name in names], dates)
        count += 1
    save(book, path)
    return count


def write_rows(
    path: str | Path,
    table: Any,
    sheet: str = "Sheet1",
    *,
    mode: Literal["replace", "append"] = "replace",
    header: bool = True,
    dates: bool = True,
) -> int:
    """Write a table or a `RowStream` to a sheet; returns the number of data rows written.

    A file that does not exist is created with the streaming writer (memory flat in rows).

    Raises:
        BusinessError: not a table, not an `.xlsx`/`.xlsm` path, corrupt existing file.
    """
    file = writable_path(str(path))
    rows = rows_of(table, "excel.write: table")
    with map_excel_errors(file), rows:
        if not file.exists():
            return _write_new(file, rows, sheet, header, dates)
        return _write_existing(file, rows, sheet, mode, header, dates)


class WriteParams(Params):
    path: str = Field(
        min_length=1,
        description="The .xlsx or .xlsm file (created when missing): a path or a storage URL.",
    )
    storage_credential: str | None = storage_credential_field()
    table: Any = Field(description="The rows to write: a table (list of objects).")
    sheet: str = Field(default="Sheet1", min_length=1, max_length=31, description="The sheet written to.")
    mode: Literal["replace", "append"] = Field(
        default="replace",
        description="replace: the sheet holds only this table afterwards; append: rows go under the existing "
        "ones, matched to the header by column name. Other sheets are always kept.",
    )
    header: bool = Field(default=True, description="Write the column names as the first row.")
    dates: bool = Field(
        default=True, description="Write ISO 8601 date/datetime text (the table form of dates) as Excel dates."
    )


@step(
    "excel.write",
    params=WriteParams,
    output="{path, sheet, rows}: where the table went and how many rows.",
    capability="office",
)
@storage_path("write")
def excel_write(params: WriteParams) -> dict[str, Any]:
    """Write a table to a sheet: a new workbook, a replaced sheet, or rows appended.

    Text starting with '=' is written as text, never as a formula (use excel.set_cells for formulas).

    Example node: `{"type": "excel.write", "params": {"path": "out/report.xlsx", "sheet": "Totals",
    "table": "{{ steps.group.output }}"}}`.
    """
    count = write_rows(
        params.path, params.table, params.sheet, mode=params.mode, header=params.header, dates=params.dates
    )
    return {"path": str(writable_path(params.path)), "sheet": params.sheet, "rows": count}
