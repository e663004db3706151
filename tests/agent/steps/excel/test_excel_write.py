"""excel.write, cells, formats, widths and sheets: files changed for real, read back with openpyxl."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from agent.steps.excel import (
    excel_autofit,
    excel_copy_sheet,
    excel_create_sheet,
    excel_delete_sheet,
    excel_format,
    excel_get_cell,
    excel_read,
    excel_rename_sheet,
    excel_set_cells,
    excel_write,
    write_rows,
)
from shared.errors import BusinessError
from shared.steps import StepEnvironment
from shared.tables import RowStream
from tests.agent.steps.excel.conftest import ORDERS_TABLE, XLS, load, make_book


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return make_book(tmp_path / "orders.xlsx")


async def test_a_new_workbook_round_trips_the_table(env: StepEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "out" / "new.xlsx"
    result = await env.run(excel_write, {"path": str(path), "table": ORDERS_TABLE, "sheet": "Data"})
    assert result == {"path": str(path), "sheet": "Data", "rows": 3}
    assert await env.run(excel_read, {"path": str(path)}) == ORDERS_TABLE
    sheet = load(path)["Data"]
    assert sheet["D2"].is_date
    assert sheet["D2"].value == dt.datetime(2026, 12, 7)
    assert sheet["E2"].value == dt.datetime(2026, 12, 7, 10, 30)
    # Data that looks like a formula stays text.
    assert sheet["H4"].data_type == "s"
    assert [p.name for p in path.parent.iterdir()] == ["new.xlsx"]


async def test_dates_false_keeps_iso_text(env: StepEnvironment, tmp_path: Path) -> None:
    path = tmp_path / "text.xlsx"
    await env.run(excel_write, {"path": str(path), "table": [{"d": "2026-12-07"}], "dates": False})
    assert load(path).active["A2"].value == "2026-12-07"


async def test_replace_keeps_the_other_sheets_and_their_place(env: StepEnvironment, book: Path) -> None:
    await env.run(excel_write, {"path": str(book), "sheet": "Notes", "table": [{"x": 1}]})
    assert load(book).sheetnames == ["Orders", "Notes", "Block"]
    assert await env.run(excel_read, {"path": str(book), "sheet": "Notes"}) == [{"x": 1}]
    assert await env.run(excel_read, {"path": str(book)}) == ORDERS_TABLE


async def test_append_matches_columns_by_name_and_adds_new_ones(env: StepEnvironment, book: Path) -> None:
    extra = [{"customer": "Dee", "id": 4, "channel": "web"}]
    result = await env.run(excel_write, {"path": str(book), "sheet": "Orders", "table": extra, "mode": "append"})
    assert result["rows"] == 1
    rows = await env.run(excel_read, {"path": str(book), "sheet": "Orders"})
    assert rows[-1] == {**{k: None for k in ORDERS_TABLE[0]}, "id": 4, "customer": "Dee", "channel": "web"}
    assert rows[0] == {**ORDERS_TABLE[0], "channel": None}


async def test_append_to_a_new_sheet_writes_the_header(env: StepEnvironment, book: Path) -> None:
    await env.run(excel_write, {"path": str(book), "sheet": "Log", "table": [{"a": 1}], "mode": "append"})
    await env.run(excel_write, {"path": str(book), "sheet": "Log", "table": [{"a": 2}], "mode": "append"})
    assert await env.run(excel_read, {"path": str(book), "sheet": "Log"}) == [{"a": 1}, {"a": 2}]


def test_write_rows_takes_a_stream(tmp_path: Path) -> None:
    rows = RowStream(["n", "sq"], ({"n": i, "sq": i * i} for i in range(1000)))
    assert write_rows(tmp_path / "s.xlsx", rows) == 1000
    book = load(tmp_path / "s.xlsx", read_only=True)
    try:  # a read-only workbook keeps its file open until closed
        sheet = book.active
        assert [c.value for c in next(iter(sheet.iter_rows(min_row=1001, max_row=1001)))] == [999, 998001]
    finally:
        book.close()


async def test_writing_bad_input_is_a_clear_error(env: StepEnvironment, tmp_path: Path) -> None:
    with pytest.raises(BusinessError, match=r"excel.write: table must be a table .*row 1 is text"):
        await env.run(excel_write, {"path": str(tmp_path / "x.xlsx"), "table": [{"a": 1}, "b"]})
    with pytest.raises(BusinessError, match=r"people\.xls: workbooks are written as .xlsx or .xlsm"):
        await env.run(excel_write, {"path": str(XLS), "table": []})
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_text("nope")
    with pytest.raises(BusinessError, match=r"corrupt\.xlsx is not a readable workbook"):
        await env.run(excel_write, {"path": str(corrupt), "table": [{"a": 1}]})
    assert corrupt.read_text() == "nope"


async def test_cells_and_formulas(env: StepEnvironment, book: Path) -> None:
    values = {"A1": "Total", "B1": "=SUM(Orders!C2:C5)", "C1": "2026-12-07", "E1": 3.5}
    assert await env.run(excel_set_cells, {"path": str(book), "sheet": "Notes", "values": values}) == 4
    path = str(book)
    assert await env.run(excel_get_cell, {"path": path, "sheet": "Notes", "cell": "B1", "formula": True}) == (
        "=SUM(Orders!C2:C5)"
    )
    assert await env.run(excel_get_cell, {"path": path, "sheet": "Notes", "cell": "C1"}) == "2026-12-07T00:00:00"
    assert await env.run(excel_get_cell, {"path": path, "sheet": "Notes", "cell": "$E$1"}) == 3.5
    assert await env.run(excel_get_cell, {"path": path, "cell": "B2"}) == "Ann"
    assert load(book)["Notes"]["C1"].is_date


async def test_number_formats_and_bold(env: StepEnvironment, book: Path) -> None:
    count = await env.run(
        excel_format, {"path": str(book), "range": "C2:D3", "number_format": "#,##0.00", "bold": True}
    )
    assert count == 4
    sheet = load(book)["Orders"]
    assert sheet["C2"].number_format == "#,##0.00"
    assert sheet["D3"].number_format == "#,##0.00"
    assert sheet["C2"].font.b is True
    assert sheet["C4"].font.b is False
    await env.run(excel_format, {"path": str(book), "range": "D2", "number_format": "dd/mm/yyyy"})
    assert load(book)["Orders"]["D2"].number_format == "dd/mm/yyyy"


async def test_autofit_sizes_columns_to_their_longest_value(env: StepEnvironment, book: Path) -> None:
    widths = await env.run(excel_autofit, {"path": str(book), "sheet": "Notes", "min_width": 3})
    assert widths == {"A": 7, "B": 4}
    sheet = load(book)["Notes"]
    assert sheet.column_dimensions["A"].width == 7


async def test_sheet_operations(env: StepEnvironment, book: Path, tmp_path: Path) -> None:
    path = str(book)
    assert await env.run(excel_create_sheet, {"path": path, "name": "First", "index": 0}) == [
        "First",
        "Orders",
        "Notes",
        "Block",
    ]
    assert await env.run(excel_rename_sheet, {"path": path, "name": "First", "new_name": "Summary"}) == [
        "Summary",
        "Orders",
        "Notes",
        "Block",
    ]
    assert (await env.run(excel_copy_sheet, {"path": path, "name": "Orders", "new_name": "Copy"}))[-1] == "Copy"
    assert await env.run(excel_read, {"path": path, "sheet": "Copy"}) == ORDERS_TABLE
    assert await env.run(excel_delete_sheet, {"path": path, "name": "Summary"}) == ["Orders", "Notes", "Block", "Copy"]
    with pytest.raises(BusinessError, match="already has a sheet 'Notes'"):
        await env.run(excel_rename_sheet, {"path": path, "name": "Copy", "new_name": "Notes"})
    with pytest.raises(BusinessError, match="has no sheet 'Nope'; its sheets are: 'Orders', 'Notes', 'Block', 'Copy'"):
        await env.run(excel_delete_sheet, {"path": path, "name": "Nope"})
    fresh = tmp_path / "fresh.xlsx"
    assert await env.run(excel_create_sheet, {"path": str(fresh), "name": "Only"}) == ["Only"]
    with pytest.raises(BusinessError, match="'Only' is the only sheet"):
        await env.run(excel_delete_sheet, {"path": str(fresh), "name": "Only"})


async def test_xlsm_keeps_its_macros_when_changed(env: StepEnvironment, book: Path, tmp_path: Path) -> None:
    macro = tmp_path / "macro.xlsm"
    shutil.copy(book, macro)
    await env.run(excel_write, {"path": str(macro), "sheet": "New", "table": [{"a": 1}]})
    assert await env.run(excel_read, {"path": str(macro), "sheet": "New"}) == [{"a": 1}]
