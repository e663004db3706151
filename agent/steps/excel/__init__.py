"""`excel.*` and `csv.*`: spreadsheets and CSV files as tables.

Reading uses python-calamine (fast, every Excel format) or, with `stream`, our own row-by-row
parser of the sheet XML (memory flat in rows); changing a workbook uses openpyxl. Both are in
the `office` extra and imported only when a step runs. Errors of these libraries become step
errors in one place, `map_excel_errors`. Tables are the value of `shared.tables`.
"""

from ._cells import excel_autofit, excel_format, excel_get_cell, excel_set_cells
from ._common import local_path, map_excel_errors
from ._csv import csv_read, csv_write, read_csv_rows, write_csv_rows
from ._read import excel_find, excel_read, excel_sheets, read_rows
from ._sheets import excel_copy_sheet, excel_create_sheet, excel_delete_sheet, excel_rename_sheet
from ._write import excel_write, write_rows

EXCEL_STEPS = (
    excel_read,
    excel_write,
    excel_sheets,
    excel_get_cell,
    excel_set_cells,
    excel_format,
    excel_autofit,
    excel_find,
    excel_create_sheet,
    excel_rename_sheet,
    excel_delete_sheet,
    excel_copy_sheet,
)
CSV_STEPS = (csv_read, csv_write)

__all__ = [
    "CSV_STEPS",
    "EXCEL_STEPS",
    "csv_read",
    "csv_write",
    "excel_autofit",
    "excel_copy_sheet",
    "excel_create_sheet",
    "excel_delete_sheet",
    "excel_find",
    "excel_format",
    "excel_get_cell",
    "excel_read",
    "excel_rename_sheet",
    "excel_set_cells",
    "excel_sheets",
    "excel_write",
    "local_path",
    "map_excel_errors",
    "read_csv_rows",
    "read_rows",
    "write_csv_rows",
    "write_rows",
]
