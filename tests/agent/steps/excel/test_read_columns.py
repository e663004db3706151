"""The column-wise conversion of `excel.read` gives the table the per-cell conversion gives.

The reference is the cell-by-cell path (`cell_value` on each cell calamine returns, then the
general `to_table`), on a workbook with every kind of cell, over several blocks of rows so that
blocks of one type per column, blocks of mixed columns and blocks with empty rows all occur.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agent.steps.excel import excel_read, read_rows
from agent.steps.excel._read_columns import BLOCK, converted_rows
from agent.steps.excel._shape import CellRange, cell_value, to_table
from shared.steps import StepEnvironment

HEADER = ["id", "amount", "big", "day", "at", "time", "flag", "name", "sparse", "mixed", "formula"]
ROWS = BLOCK * 2 + 700
CACHED = {"=1/0": ("e", "#DIV/0!"), "=A2*2": ("", "4"), '="x"&"y"': ("str", "xy"), "=2.5*2": ("", "5")}


def _cells(i: int) -> list[Any]:
    block = i // BLOCK
    amount = float(i) if block == 0 else i * 1.25
    big = float(2**53) if i == 7 else 1e20 if i == 8 else float(i)
    name = None if block == 1 and i % 5 == 0 else f"name {i}"
    mixed = [i, f"t{i}", True, 0.5][i % 4] if block == 2 else f"t{i}"
    formula = list(CACHED)[i % len(CACHED)] if i % 97 == 0 else float(i)
    return [
        i,
        amount,
        big,
        dt.date(2026, 1, 1) + dt.timedelta(days=i % 900),
        dt.datetime(2026, 12, 7, 10, 30) + dt.timedelta(minutes=i),
        dt.time(i % 24, i % 60, i % 60),
        i % 3 == 0,
        name,
        "s" if i % 1000 == 0 else None,
        mixed,
        formula,
    ]


def _with_cached_values(path: Path) -> None:
    """openpyxl writes formulas without a computed value; give them one, as Excel would."""
    part = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    xml = parts[part].decode()
    for formula, (kind, value) in CACHED.items():
        body = formula[1:].replace("&", "&amp;").replace('"', "&quot;")
        for quoted in (body, body.replace("&quot;", '"')):
            typed = f' t="{kind}"' if kind else ""
            xml = xml.replace(f"><f>{quoted}</f><v></v>", f"{typed}><f>{quoted}</f><v>{value}</v>")
    assert "<v></v>" not in xml, "a formula kept no cached value"
    parts[part] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


@pytest.fixture(scope="module")
def every_type(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import openpyxl

    path = tmp_path_factory.mktemp("columns") / "every_type.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(ROWS):
        if i // BLOCK == 2 and i % 50 == 0:
            sheet.append([])  # empty rows, in one block only
        sheet.append(_cells(i))
    sheet.cell(row=40, column=len(HEADER) + 2, value="right of the header")
    sheet.cell(row=41, column=len(HEADER) + 2, value="alone right of the header")
    for column in range(1, len(HEADER) + 1):
        sheet.cell(row=41, column=column).value = None
    shifted = book.create_sheet("Shifted")  # the table starts in column B
    for row in [HEADER, *(_cells(i) for i in range(300))]:
        shifted.append([None, *row])
    book.save(path)
    _with_cached_values(path)
    return path


def _per_cell(path: Path, sheet: str | None, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """The table as the cell-by-cell path builds it."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(path))
    name = sheet or book.sheet_names[0]
    grid = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    rows = ((i, [cell_value(value) for value in raw]) for i, raw in enumerate(grid))
    with to_table(rows, header=True, area=CellRange(), offset=offset, limit=limit, converted=True) as table:
        return list(table)


@pytest.mark.parametrize(
    ("sheet", "offset", "limit"), [(None, 0, None), (None, BLOCK - 3, 2 * BLOCK), (None, 5, 0), ("Shifted", 0, None)]
)
async def test_the_table_is_the_one_the_per_cell_path_gives(
    every_type: Path, sheet: str | None, offset: int, limit: int | None
) -> None:
    expected = _per_cell(every_type, sheet, offset, limit)
    env = StepEnvironment()
    got = await env.run(excel_read, {"path": str(every_type), "sheet": sheet, "offset": offset, "limit": limit})
    assert got == expected
    assert [[type(v) for v in row.values()] for row in got] == [[type(v) for v in row.values()] for row in expected]


def test_the_workbook_holds_every_kind_of_cell(every_type: Path) -> None:
    with read_rows(every_type) as rows:
        table = list(rows)
    assert len(table) == ROWS - 1  # row 41 held only a cell right of the header
    kinds = {type(row[name]) for row in table for name in HEADER}
    assert kinds == {int, float, str, bool, type(None)}
    # Cached results are read; calamine gives an error cell (#DIV/0!) as empty, as before.
    results = {"=1/0": None, "=A2*2": 4, '="x"&"y"': "xy", "=2.5*2": 5}
    formulas = {row["id"]: row["formula"] for row in table if row["id"] % 97 == 0}
    assert formulas == {i: results[list(CACHED)[i % len(CACHED)]] for i in formulas}
    assert set(formulas.values()) == {None, 4, "xy", 5}
    assert table[7]["big"] == 2**53
    assert isinstance(table[7]["big"], float)
    assert table[0]["at"] == "2026-12-07T10:30:00"
    assert table[0]["day"] == "2026-01-01"


def test_the_stream_reader_agrees_on_the_data_cells(every_type: Path) -> None:
    # An independent reader (our own sheet XML parser) gives the same table, formulas aside.
    with read_rows(every_type) as fast, read_rows(every_type, stream=True) as stream:
        pairs = list(zip(fast, stream, strict=True))
    for fast_row, stream_row in pairs:
        assert {k: v for k, v in fast_row.items() if k != "formula"} == {
            k: v for k, v in stream_row.items() if k != "formula"
        }


@pytest.mark.parametrize(
    "column",
    [
        [1.0, 2.0, -3.0],
        [1.5, 2.0, float("nan")],
        [float("nan"), 2.0, 2.0**60],
        [2.0**53, 1.0],
        [float("inf"), 1.0],
        ["a", "", "b"],
        ["a", "b"],
        [dt.date(2026, 1, 2), dt.date(2026, 1, 3)],
        [dt.datetime(2026, 1, 2, 3, 4, 5), dt.datetime(2026, 1, 3)],
        [dt.time(1, 2, 3), dt.time(4, 5)],
        [dt.timedelta(seconds=90), dt.timedelta(seconds=1.5)],
        [True, False],
        [1, 2],
        [1.0, "x", True, "", dt.date(2026, 1, 1), None],
    ],
)
def test_each_column_kind_converts_like_each_cell(column: list[Any]) -> None:
    rows = [[value, "k"] for value in column]
    got = [row[0] for row in converted_rows(rows)]
    expected = [cell_value(value) for value in column]
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert type(a) is type(b)
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def test_the_collector_is_paused_only_while_a_table_is_built() -> None:
    import gc
    import threading

    from agent.steps.excel._common import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        inner_done = threading.Event()

        def other_read() -> None:  # a read in another worker thread ending first
            with paused_gc():
                pass
            inner_done.set()

        threading.Thread(target=other_read).start()
        assert inner_done.wait(10)
        assert not gc.isenabled()  # still paused: the outer read has not ended
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("a read that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
