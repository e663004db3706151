"""excel.read, excel.sheets, excel.find: typed tables from real workbooks, and clear errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from agent.steps.excel import excel_find, excel_read, excel_sheets, read_rows
from shared.errors import BusinessError, StepError
from shared.steps import StepEnvironment
from tests.agent.steps.excel.conftest import ORDERS_TABLE, XLS, new_book


@pytest.mark.parametrize("stream", [False, True])
async def test_read_keeps_types_and_drops_empty_rows(env: StepEnvironment, typed_book: Path, stream: bool) -> None:
    rows = await env.run(excel_read, {"path": str(typed_book), "sheet": "Orders", "stream": stream})
    assert rows == ORDERS_TABLE
    assert [type(r["amount"]) for r in rows] == [float, int, float]


async def test_the_first_sheet_is_read_by_default(env: StepEnvironment, typed_book: Path) -> None:
    assert await env.run(excel_read, {"path": str(typed_book)}) == ORDERS_TABLE


@pytest.mark.parametrize("stream", [False, True])
async def test_range_offset_limit_and_no_header(env: StepEnvironment, typed_book: Path, stream: bool) -> None:
    path = str(typed_book)
    block = await env.run(excel_read, {"path": path, "sheet": "Block", "range": "C3:D9", "stream": stream})
    assert block == [{"k": "a", "v": 1}, {"k": "b", "v": 2}]
    tail = await env.run(excel_read, {"path": path, "sheet": "Block", "range": "C4", "stream": stream})
    assert tail == [{"a": "b", "1": 2}]
    page = await env.run(excel_read, {"path": path, "offset": 1, "limit": 1, "stream": stream})
    assert [r["id"] for r in page] == [2]
    raw = await env.run(excel_read, {"path": path, "sheet": "Notes", "header": False, "stream": stream})
    assert raw == [{"column_1": "Total", "column_2": 42}]


async def test_a_bad_range_is_refused_before_the_run(env: StepEnvironment, typed_book: Path) -> None:
    with pytest.raises(StepError, match="not a cell reference") as caught:
        await env.run(excel_read, {"path": str(typed_book), "range": "A1:ZZZZ9"})
    assert caught.value.kind == "validation"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_wrong_sheet_name_lists_the_sheets(env: StepEnvironment, typed_book: Path, stream: bool) -> None:
    with pytest.raises(
        BusinessError, match=re.escape("orders.xlsx has no sheet 'Order'; its sheets are: 'Orders', 'Notes', 'Block'")
    ) as caught:
        await env.run(excel_read, {"path": str(typed_book), "sheet": "Order", "stream": stream})
    assert caught.value.details["sheets"] == ["Orders", "Notes", "Block"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_corrupt_file_is_a_clear_error_naming_it(env: StepEnvironment, tmp_path: Path, stream: bool) -> None:
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(BusinessError, match=r"broken\.xlsx is not a readable workbook") as caught:
        await env.run(excel_read, {"path": str(bad), "stream": stream})
    assert caught.value.kind == "corrupt_file"
    assert caught.value.retryable is False


async def test_a_truncated_workbook_is_a_clear_error(env: StepEnvironment, typed_book: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(typed_book.read_bytes()[:2000])  # noqa: ASYNC240 - a small local file
    for stream in (False, True):
        with pytest.raises(BusinessError, match=r"cut\.xlsx is not a readable workbook"):
            await env.run(excel_read, {"path": str(cut), "stream": stream})


async def test_missing_file_and_storage_url(env: StepEnvironment, tmp_path: Path) -> None:
    with pytest.raises(BusinessError, match=r"nope\.xlsx does not exist") as caught:
        await env.run(excel_read, {"path": str(tmp_path / "nope.xlsx")})
    assert caught.value.kind == "file_not_found"
    # Storage URLs are read through the files family (tests/agent/steps/storage_io/); an unknown
    # scheme is refused with the list of those there are.
    with pytest.raises(StepError, match=re.escape("'webdav://' is not a supported storage; use one of:")) as url:
        await env.run(excel_read, {"path": "webdav://host/a.xlsx"})
    assert url.value.kind == "validation"


async def test_xls_is_read_with_types(env: StepEnvironment) -> None:
    rows = await env.run(excel_read, {"path": str(XLS)})
    assert rows == [
        {"name": "Ann", "age": 34, "joined": "2020-03-01", "score": 9.5, "active": True},
        {"name": "Bob", "age": 41, "joined": "2019-11-30", "score": 7.25, "active": False},
    ]
    assert await env.run(excel_sheets, {"path": str(XLS)}) == ["People", "Second"]
    with pytest.raises(BusinessError, match=re.escape("stream mode reads .xlsx and .xlsm files")):
        await env.run(excel_read, {"path": str(XLS), "stream": True})


@pytest.mark.parametrize("stream", [False, True])
async def test_xlsm_is_read(env: StepEnvironment, typed_book: Path, tmp_path: Path, stream: bool) -> None:
    macro = tmp_path / "orders.xlsm"
    shutil.copy(typed_book, macro)
    assert await env.run(excel_read, {"path": str(macro), "stream": stream}) == ORDERS_TABLE


async def test_sheets_and_find(env: StepEnvironment, typed_book: Path) -> None:
    assert await env.run(excel_sheets, {"path": str(typed_book)}) == ["Orders", "Notes", "Block"]
    found = await env.run(excel_find, {"path": str(typed_book), "value": 2})
    assert found == [
        {"sheet": "Orders", "cell": "A3", "row": 3, "column": 1, "value": 2},
        {"sheet": "Block", "cell": "D5", "row": 5, "column": 4, "value": 2},
    ]
    # 1 is not TRUE, though Python says 1 == True.
    ones = await env.run(excel_find, {"path": str(typed_book), "value": 1, "sheet": "Orders"})
    assert [f["cell"] for f in ones] == ["A2"]
    text = await env.run(excel_find, {"path": str(typed_book), "value": "TOTAL", "match": "case_insensitive"})
    assert text == [{"sheet": "Notes", "cell": "A1", "row": 1, "column": 1, "value": "Total"}]
    assert len(await env.run(excel_find, {"path": str(typed_book), "value": "a", "match": "contains", "limit": 2})) == 2


def test_read_rows_streams_and_closes_the_file(typed_book: Path) -> None:
    with read_rows(typed_book, "Orders", stream=True) as rows:
        assert rows.columns == ("id", "customer", "amount", "due", "created", "at", "paid", "note")
        first = next(iter(rows))
    assert first["customer"] == "Ann"


async def test_a_cancelled_execution_stops_the_read(typed_book: Path, tmp_path: Path) -> None:
    from agent.steps.excel import csv_read
    from shared.errors import StepCancelled

    env = StepEnvironment()
    env.cancel()
    with pytest.raises(StepCancelled):
        await env.run(excel_read, {"path": str(typed_book), "stream": True})
    orders = tmp_path / "o.csv"
    orders.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(StepCancelled):
        await env.run(csv_read, {"path": str(orders)})


@pytest.mark.parametrize("stream", [False, True])
async def test_a_table_that_starts_right_of_column_a(env: StepEnvironment, tmp_path: Path, stream: bool) -> None:
    path = new_book(tmp_path / "offset.xlsx", {"C3": "k", "D3": "v", "C4": 1, "E6": 2, "D7": "x"})
    # E6 is right of the header's last name: ignored, and its row is empty in the table.
    assert await env.run(excel_read, {"path": str(path), "stream": stream}) == [
        {"k": 1, "v": None},
        {"k": None, "v": "x"},
    ]
    assert await env.run(excel_read, {"path": str(path), "range": "C3:E6", "header": False, "stream": stream}) == [
        {"column_1": "k", "column_2": "v"},
        {"column_1": 1},
        {"column_1": None, "column_2": None, "column_3": 2},
    ]
