"""Cells of a workbook: `excel.get_cell`, `excel.set_cells`, `excel.format`, `excel.autofit`."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import Field, field_validator

from agent.steps._storage_io import storage_credential_field, storage_path
from shared.errors import BusinessError
from shared.steps import step
from shared.tables import to_cell

from ._book import editing, from_iso, worksheet
from ._common import Params, local_path, map_excel_errors, openpyxl
from ._shape import CellRange, column_letters, parse_cell

_PATH = "The .xlsx or .xlsm file: a local path or a storage URL (s3://, sftp://, ...)."
_SHEET = "Sheet name; empty for the first sheet."


def _valid_cell(value: str) -> str:
    parse_cell(value)
    return value


def _valid_range(value: str) -> str:
    CellRange.parse(value)
    return value


class GetCellParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    sheet: str | None = Field(default=None, description=_SHEET)
    cell: str = Field(description="The cell, e.g. 'B3'.")
    formula: bool = Field(
        default=False, description="Return the formula text ('=SUM(A1:A3)') instead of its last computed value."
    )

    _cell = field_validator("cell")(_valid_cell)


@step(
    "excel.get_cell",
    params=GetCellParams,
    output="The cell's value (dates as ISO text), or its formula.",
    capability="office",
    effects=False,
)
@storage_path("read")
def excel_get_cell(params: GetCellParams) -> Any:
    """Read one cell's value or formula.

    Example node: `{"type": "excel.get_cell", "params": {"path": "in/orders.xlsx", "cell": "B3"}}`.
    """
    file = local_path(params.path)
    with map_excel_errors(file):
        book = openpyxl().load_workbook(file, read_only=True, data_only=not params.formula)
        try:
            value = worksheet(book, params.path, params.sheet)[params.cell.replace("$", "")].value
        finally:
            book.close()
    if params.formula and not isinstance(value, str | int | float | bool | type(None)):
        value = getattr(value, "text", str(value))  # array formulas
    return to_cell(value)


class SetCellsParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    sheet: str | None = Field(default=None, description=_SHEET)
    values: dict[str, Any] = Field(
        min_length=1,
        description="Cell -> value, e.g. {'A1': 'Total', 'B1': '=SUM(B2:B9)', 'C1': '2026-12-07'}; "
        "text starting with '=' is a formula, ISO dates become dates.",
    )
    number_format: str | None = Field(default=None, description="Excel number format for these cells, e.g. '0.00'.")

    @field_validator("values")
    @classmethod
    def _cells(cls, value: dict[str, Any]) -> dict[str, Any]:
        for ref in value:
            parse_cell(ref)
        return value


@step("excel.set_cells", params=SetCellsParams, output="The number of cells written.", capability="office")
@storage_path("write")
def excel_set_cells(params: SetCellsParams) -> int:
    """Set cell values and formulas in an existing workbook.

    Example node: `{"type": "excel.set_cells", "params": {"path": "out/report.xlsx",
    "values": {"D1": "Total", "D2": "=SUM(B2:B100)"}}}`.
    """
    with editing(params.path) as book:
        sheet = worksheet(book, params.path, params.sheet)
        for ref, value in params.values.items():
            cell = sheet[ref.replace("$", "")]
            cell.value = str(value) if isinstance(value, dict | list) else from_iso(value)
            if params.number_format:
                cell.number_format = params.number_format
    return len(params.values)


class FormatParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    sheet: str | None = Field(default=None, description=_SHEET)
    range: str = Field(description="The cells: 'B2:B100', or 'B2' for one cell.")
    number_format: str | None = Field(
        default=None, description="Number or date format, e.g. '#,##0.00', '0%', 'yyyy-mm-dd', 'dd/mm/yyyy hh:mm'."
    )
    bold: bool | None = Field(default=None, description="Make the text bold (true) or regular (false).")

    _range = field_validator("range")(_valid_range)


@step("excel.format", params=FormatParams, output="The number of cells formatted.", capability="office")
@storage_path("write")
def excel_format(params: FormatParams) -> int:
    """Apply a number/date format (and bold) to a range of cells.

    Example node: `{"type": "excel.format", "params": {"path": "out/report.xlsx", "range": "B2:B100",
    "number_format": "#,##0.00"}}`.
    """
    area = CellRange.parse(params.range)
    count = 0
    with editing(params.path) as book:
        sheet = worksheet(book, params.path, params.sheet)
        last_row = area.last_row if area.last_row is not None else area.first_row
        last_col = area.last_col if area.last_col is not None else area.first_col
        for row in sheet.iter_rows(
            min_row=area.first_row + 1, max_row=last_row + 1, min_col=area.first_col + 1, max_col=last_col + 1
        ):
            for cell in row:
                if params.number_format is not None:
                    cell.number_format = params.number_format
                if params.bold is not None:
                    font = copy.copy(cell.font)
                    font.b = params.bold
                    cell.font = font
                count += 1
    return count


class AutofitParams(Params):
    path: str = Field(min_length=1, description=_PATH)
    storage_credential: str | None = storage_credential_field()
    sheet: str | None = Field(default=None, description=_SHEET)
    min_width: float = Field(default=6, ge=0, description="Narrowest column width (in characters).")
    max_width: float = Field(default=60, gt=0, description="Widest column width (in characters).")


def _shown(value: Any) -> int:
    if value is None:
        return 0
    text = value.isoformat(sep=" ") if hasattr(value, "isoformat") and not isinstance(value, str) else str(value)
    return max(len(line) for line in text.splitlines()) if text else 0


@step("excel.autofit", params=AutofitParams, output="Column letter -> width set.", capability="office")
@storage_path("write")
def excel_autofit(params: AutofitParams) -> dict[str, float]:
    """Fit each column's width to its longest value.

    Example node: `{"type": "excel.autofit", "params": {"path": "out/report.xlsx", "sheet": "Totals"}}`.
    """
    if params.max_width < params.min_width:
        raise BusinessError("excel.autofit: max_width is below min_width", kind="validation")
    widths: dict[str, float] = {}
    with editing(params.path) as book:
        sheet = worksheet(book, params.path, params.sheet)
        longest: dict[int, int] = {}
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None and not str(cell.value).startswith("="):
                    longest[cell.column] = max(longest.get(cell.column, 0), _shown(cell.value))
        for column, length in sorted(longest.items()):
            letter = column_letters(column - 1)
            widths[letter] = min(params.max_width, max(params.min_width, length + 2))
            sheet.column_dimensions[letter].width = widths[letter]
    return widths
