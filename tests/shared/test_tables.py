"""The table contract of `shared.tables` and the `data.*` table steps."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import BusinessError, StepError
from shared.steps import StepEnvironment
from shared.steps.builtin import BUILTIN_STEPS
from shared.steps.builtin.tables import (
    FilterParams,
    dedupe_rows,
    filter_rows,
    group_rows,
    join_tables,
    map_rows,
    pivot_rows,
    slice_rows,
    sort_rows,
    unpivot_rows,
)
from shared.tables import RowStream, check_table, columns, rows_of, to_cell, to_row

SALES = [
    {"region": "north", "month": "jan", "sales": 10, "rep": "ann"},
    {"region": "south", "month": "jan", "sales": 5, "rep": "bob"},
    {"region": "north", "month": "feb", "sales": 7.5, "rep": "ann"},
    {"region": "north", "month": "jan", "sales": 1, "rep": "cy"},
    {"region": "south", "month": "feb", "sales": None, "rep": "bob"},
]


async def run(step_fn: Any, params: dict[str, Any]) -> Any:
    return await StepEnvironment().run(step_fn, params)


# --- the contract -----------------------------------------------------------------------------


def test_columns_follow_the_first_row_then_new_keys_in_order() -> None:
    assert columns([{"b": 1, "a": 2}, {"a": 3, "c": 4}, {"d": 5}]) == ["b", "a", "c", "d"]
    assert columns([]) == []
    assert columns(RowStream(["x", "y"], iter([]))) == ["x", "y"]


def test_check_table_names_the_param_and_the_row() -> None:
    assert check_table([{"a": 1}], "p") == [{"a": 1}]
    with pytest.raises(BusinessError, match=r"data.sort: table must be a table \(a list of objects\), got text"):
        check_table("rows", "data.sort: table")
    with pytest.raises(BusinessError, match="row 2 is list") as caught:
        check_table([{"a": 1}, {"a": 2}, [3]], "data.sort: table")
    assert caught.value.details == {"param": "data.sort: table", "row": 2}
    assert caught.value.retryable is False


def test_to_cell_makes_json_values_that_survive_a_journal() -> None:
    values = [
        dt.datetime(2026, 12, 7, 10, 30),
        dt.date(2026, 12, 7),
        dt.time(9, 5),
        Decimal("12.50"),
        Decimal("3"),
        dt.timedelta(hours=1, seconds=1),
        float("nan"),
        True,
        None,
        b"ok",
    ]
    cells = [to_cell(v) for v in values]
    assert cells == ["2026-12-07T10:30:00", "2026-12-07", "09:05:00", 12.5, 3, 3601, None, True, None, "ok"]
    assert json.loads(json.dumps(cells)) == cells
    assert to_row(["a", "b", "c"], [Decimal("1.5"), dt.date(2026, 1, 2)]) == {"a": 1.5, "b": "2026-01-02", "c": None}


def test_row_stream_is_read_once_and_closed_after_the_last_row() -> None:
    closed = []
    stream = RowStream(["a"], iter([{"a": 1}, {"a": 2}]), on_close=lambda: closed.append(True))
    assert list(stream) == [{"a": 1}, {"a": 2}]
    assert closed == [True]
    with pytest.raises(RuntimeError, match="only once"):
        iter(stream)
    assert rows_of(stream, "p") is stream
    assert list(rows_of([{"a": 1}], "p")) == [{"a": 1}]


# --- the steps ----------------------------------------------------------------------------------


def test_the_table_steps_are_built_in_and_pure() -> None:
    from shared.steps._api import definition_of

    names = {definition_of(fn).name: definition_of(fn) for fn in BUILTIN_STEPS}
    for name in ("filter", "sort", "map", "group", "join", "dedupe", "pivot", "unpivot", "slice"):
        assert names[f"data.{name}"].effects is False


async def test_filter_by_expression_and_by_equality() -> None:
    rows = await run(filter_rows, {"table": SALES, "where": "row.sales is not none and row.sales > 5"})
    assert [r["rep"] for r in rows] == ["ann", "ann"]
    rows = await run(filter_rows, {"table": SALES, "equals": {"region": "south"}, "where": "index == 0"})
    assert rows == [SALES[1]]


async def test_filter_rejects_an_expression_that_does_not_parse_before_the_run() -> None:
    with pytest.raises(ValueError, match="invalid expression"):
        FilterParams.model_validate({"table": [], "where": "row.amount >"})


async def test_filter_names_the_row_whose_expression_fails() -> None:
    with pytest.raises(BusinessError, match=r"data.filter: row 1: .*") as caught:
        await run(filter_rows, {"table": [{"a": 1}, {"b": 2}], "where": "row.a > 0"})
    assert caught.value.details == {"row": 1}


async def test_filter_of_a_value_that_is_not_a_table_is_a_business_error() -> None:
    with pytest.raises(BusinessError, match=r"data\.filter: table must be a table"):
        await run(filter_rows, {"table": {"a": 1}, "where": "true"})


async def test_sort_several_keys_descending_with_empty_cells_last() -> None:
    rows = await run(sort_rows, {"table": SALES, "by": ["region", "-sales"]})
    assert [(r["region"], r["sales"]) for r in rows] == [
        ("north", 10),
        ("north", 7.5),
        ("north", 1),
        ("south", 5),
        ("south", None),
    ]


async def test_sort_on_a_missing_column_lists_the_columns() -> None:
    with pytest.raises(BusinessError, match="no column 'amount'; the columns are region, month, sales, rep"):
        await run(sort_rows, {"table": SALES, "by": ["amount"]})


async def test_map_computes_renames_and_selects() -> None:
    rows = await run(
        map_rows,
        {
            "table": [{"price": 2, "qty": 3, "name": "x"}],
            "compute": {"total": "row.price * row.qty", "n": "index + 1"},
            "rename": {"name": "item"},
            "select": ["item", "total", "n"],
        },
    )
    assert rows == [{"item": "x", "total": 6, "n": 1}]


async def test_group_aggregates_in_order_of_first_appearance() -> None:
    rows = await run(
        group_rows,
        {
            "table": SALES,
            "by": ["region"],
            "aggregates": {
                "n": {"op": "count"},
                "total": {"op": "sum", "column": "sales"},
                "avg": {"op": "avg", "column": "sales"},
                "low": {"op": "min", "column": "sales"},
                "high": {"op": "max", "column": "sales"},
                "first": {"op": "first", "column": "rep"},
                "last": {"op": "last", "column": "rep"},
                "reps": {"op": "list", "column": "rep"},
            },
        },
    )
    assert rows == [
        {
            "region": "north",
            "n": 3,
            "total": 18.5,
            "avg": 18.5 / 3,
            "low": 1,
            "high": 10,
            "first": "ann",
            "last": "cy",
            "reps": ["ann", "ann", "cy"],
        },
        {
            "region": "south",
            "n": 2,
            "total": 5,
            "avg": 5.0,
            "low": 5,
            "high": 5,
            "first": "bob",
            "last": "bob",
            "reps": ["bob", "bob"],
        },
    ]


async def test_group_sum_of_text_names_the_column() -> None:
    with pytest.raises(BusinessError, match="column 'rep' holds 'ann', not a number"):
        await run(group_rows, {"table": SALES, "aggregates": {"x": {"op": "sum", "column": "rep"}}})
    with pytest.raises(StepError, match="'sum' needs a column"):
        await run(group_rows, {"table": SALES, "aggregates": {"x": {"op": "sum"}}})


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("inner", [(1, "a", "x")]),
        ("left", [(1, "a", "x"), (2, "b", None)]),
        ("right", [(1, "a", "x"), (3, None, "z")]),
        ("full", [(1, "a", "x"), (2, "b", None), (3, None, "z")]),
    ],
)
async def test_join_kinds(how: str, expected: list[tuple[Any, ...]]) -> None:
    left = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    right = [{"id": 1, "name": "x"}, {"id": 3, "name": "z"}]
    rows = await run(join_tables, {"left": left, "right": right, "on": ["id"], "how": how})
    assert [(r["id"], r["name"], r["name_right"]) for r in rows] == expected


async def test_join_repeats_a_left_row_for_each_match() -> None:
    rows = await run(
        join_tables,
        {"left": [{"k": 1, "a": 0}], "right": [{"k": 1, "b": 1}, {"k": 1, "b": 2}], "on": ["k"]},
    )
    assert rows == [{"k": 1, "a": 0, "b": 1}, {"k": 1, "a": 0, "b": 2}]


async def test_dedupe_keeps_first_or_last_in_input_order() -> None:
    table = [{"e": "a", "n": 1}, {"e": "b", "n": 2}, {"e": "a", "n": 3}, {"e": "a", "n": 1}]
    assert await run(dedupe_rows, {"table": table}) == table[:3]
    assert await run(dedupe_rows, {"table": table, "columns": ["e"], "keep": "last"}) == [table[1], table[3]]
    # True and 1 are different cells, though Python hashes them alike.
    assert len(await run(dedupe_rows, {"table": [{"v": True}, {"v": 1}]})) == 2


async def test_pivot_then_unpivot_round_trips() -> None:
    wide = await run(
        pivot_rows, {"table": SALES, "index": ["region"], "columns": "month", "values": "sales", "aggregate": "sum"}
    )
    assert wide == [{"region": "north", "jan": 11, "feb": 7.5}, {"region": "south", "jan": 5, "feb": 0}]
    long = await run(unpivot_rows, {"table": wide, "keep": ["region"], "name_column": "month", "value_column": "s"})
    assert long[:2] == [{"region": "north", "month": "jan", "s": 11}, {"region": "north", "month": "feb", "s": 7.5}]
    assert len(long) == 4


async def test_slice_pages_and_tails() -> None:
    table = [{"i": i} for i in range(10)]
    assert await run(slice_rows, {"table": table, "start": 2, "limit": 3}) == table[2:5]
    assert await run(slice_rows, {"table": table, "start": -2}) == table[8:]


# --- properties ------------------------------------------------------------------------------------

cells = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from(["a", "b", "c"]))
tables = st.lists(st.fixed_dictionaries({"k": cells, "v": cells}), max_size=25)


@settings(max_examples=60, deadline=None)
@given(tables)
def test_sort_is_an_ordered_permutation(table: list[dict[str, Any]]) -> None:
    import asyncio

    rows = asyncio.run(run(sort_rows, {"table": table, "by": ["k"]}))
    assert sorted(map(repr, rows)) == sorted(map(repr, table))
    present = [r["k"] for r in rows if r["k"] is not None]
    assert all(r["k"] is None for r in rows[len(present) :])
    numbers = [k for k in present if isinstance(k, int)]
    assert numbers == sorted(numbers)
    assert present == numbers + sorted(k for k in present if isinstance(k, str))


@settings(max_examples=60, deadline=None)
@given(tables)
def test_group_counts_add_up_and_dedupe_is_idempotent(table: list[dict[str, Any]]) -> None:
    import asyncio

    groups = asyncio.run(run(group_rows, {"table": table, "by": ["k"], "aggregates": {"n": {"op": "count"}}}))
    assert sum(g["n"] for g in groups) == (len(table) if table else 0)
    once = asyncio.run(run(dedupe_rows, {"table": table}))
    assert asyncio.run(run(dedupe_rows, {"table": once})) == once


def test_rpa_validate_reports_a_bad_row_expression_with_its_path() -> None:
    from shared.flow import validate_document
    from shared.steps import StepRegistry

    document = {
        "schema": "rpa.flow/1",
        "name": "t",
        "nodes": [
            {"id": "keep", "type": "data.filter", "params": {"table": [], "where": "row.amount >"}},
            {"id": "calc", "type": "data.map", "params": {"table": [], "compute": {"x": "row.a +* 2"}}},
            {"id": "ok", "type": "data.filter", "params": {"table": "{{ inputs.rows }}", "where": "row.a > 1"}},
        ],
    }
    problems = [p.to_dict() for p in validate_document(document, StepRegistry(BUILTIN_STEPS))]
    assert [p["path"] for p in problems] == ["$.nodes[0].params.where", "$.nodes[1].params.compute"]
    assert "invalid expression 'row.amount >'" in problems[0]["message"]
