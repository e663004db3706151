"""`data.*` table steps: filter, sort, map, group, join, dedupe, pivot, unpivot, slice.

Every step takes and returns the table value of `shared.tables` (a list of objects), is pure
(`effects=False`) and never changes its input. Expressions (`data.filter`'s `where`,
`data.map`'s `compute`) are bare expressions of the flow language, written WITHOUT braces and
evaluated once per row with ``row`` (the row object) and ``index`` (its position) in scope:
``row.amount > 100 and row.country == 'FR'``. Braces would make the engine render them once,
before the step, in the flow's scope. Bad data is a `BusinessError` (kind ``data``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import BusinessError
from shared.expressions import ExpressionError, check_syntax, evaluate
from shared.steps._api import step
from shared.steps.builtin._aggregate import AggregateOp, aggregate, group_key, sort_key
from shared.tables import Row, Table, check_table, columns

_TABLE = "The table: a list of objects (e.g. the output of excel.read or csv.read)."


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_expression(text: str) -> str:
    problems = check_syntax("{{ " + text + " }}")
    if problems:
        raise ValueError(f"invalid expression {text!r}: {problems[0][1]}")
    return text


@contextmanager
def _per_row(step_name: str, index: int) -> Iterator[None]:
    try:
        yield
    except ExpressionError as err:
        raise BusinessError(f"{step_name}: row {index}: {err.message}", kind="data", details={"row": index}) from None


def _require_columns(table: Table, names: list[str], where: str) -> None:
    known = columns(table)
    missing = [name for name in names if name not in known]
    if table and missing:
        raise BusinessError(
            f"{where}: no column {', '.join(repr(m) for m in missing)}; the columns are {', '.join(known)}",
            kind="data",
        )


class FilterParams(_Params):
    table: Any = Field(description=_TABLE)
    where: str | None = Field(
        default=None,
        description="Keep rows where this bare expression is true, e.g. `row.amount > 100` (no braces).",
    )
    equals: dict[str, Any] | None = Field(
        default=None, description="Keep rows whose columns equal these values, e.g. {'country': 'FR'}."
    )

    _where = field_validator("where")(lambda v: v if v is None else _check_expression(v))


@step("data.filter", params=FilterParams, output="The rows that match, in their order.", effects=False)
def filter_rows(params: FilterParams) -> Table:
    """Keep the rows of a table that match a condition.

    Example node: `{"type": "data.filter", "params": {"table": "{{ steps.read.output }}",
    "where": "row.amount > 100"}}`.
    """
    table = check_table(params.table, "data.filter: table")
    kept = table
    if params.equals:
        wanted = params.equals
        kept = [row for row in kept if all(row.get(k) == v for k, v in wanted.items())]
    if params.where:
        matching = []
        for index, row in enumerate(kept):
            with _per_row("data.filter", index):
                if evaluate(params.where, {"row": row, "index": index}):
                    matching.append(row)
        kept = matching
    return list(kept)


def _cell_key(name: str) -> Callable[[Row], tuple[int, Any]]:
    return lambda row: sort_key(row.get(name))


class SortParams(_Params):
    table: Any = Field(description=_TABLE)
    by: list[str] = Field(
        min_length=1, description="Columns to sort on, most significant first; a leading '-' sorts descending."
    )


@step("data.sort", params=SortParams, output="The rows in the new order.", effects=False)
def sort_rows(params: SortParams) -> Table:
    """Sort a table on one or more columns (stable; empty cells last, numbers before text).

    Example node: `{"type": "data.sort", "params": {"table": "{{ steps.read.output }}", "by": ["-amount", "name"]}}`.
    """
    table = check_table(params.table, "data.sort: table")
    keys = [(name[1:], True) if name.startswith("-") else (name, False) for name in params.by]
    _require_columns(table, [name for name, _ in keys], "data.sort: by")
    ordered = list(table)
    # Sort by the least significant key first: Python's sort is stable.
    for name, descending in reversed(keys):
        present = [row for row in ordered if row.get(name) is not None]
        empty = [row for row in ordered if row.get(name) is None]
        present.sort(key=_cell_key(name), reverse=descending)
        ordered = present + empty
    return ordered


class MapParams(_Params):
    table: Any = Field(description=_TABLE)
    compute: dict[str, str] = Field(
        default_factory=dict,
        description="New or replaced columns: name -> bare expression over `row` and `index`, "
        "e.g. {'total': 'row.price * row.qty'}. Evaluated on the input row, before renaming.",
    )
    rename: dict[str, str] = Field(default_factory=dict, description="Old column name -> new name.")
    select: list[str] | None = Field(
        default=None, description="Keep only these columns (names after renaming), in this order."
    )

    @field_validator("compute")
    @classmethod
    def _compute_parses(cls, value: dict[str, str]) -> dict[str, str]:
        for expression in value.values():
            _check_expression(expression)
        return value


def _map_row(params: MapParams, row: Row, index: int) -> Row:
    out = dict(row)
    for name, expression in params.compute.items():
        with _per_row("data.map", index):
            out[name] = evaluate(expression, {"row": row, "index": index})
    if params.rename:
        out = {params.rename.get(key, key): value for key, value in out.items()}
    if params.select is not None:
        out = {name: out.get(name) for name in params.select}
    return out


@step("data.map", params=MapParams, output="A table with the computed, renamed and selected columns.", effects=False)
def map_rows(params: MapParams) -> Table:
    """Compute, rename and select columns.

    Example node: `{"type": "data.map", "params": {"table": "{{ steps.read.output }}",
    "compute": {"total": "row.price * row.qty"}, "rename": {"name": "customer"},
    "select": ["customer", "total"]}}`.
    """
    table = check_table(params.table, "data.map: table")
    if params.rename:
        _require_columns(table, list(params.rename), "data.map: rename")
    return [_map_row(params, row, index) for index, row in enumerate(table)]


class Aggregate(_Params):
    op: AggregateOp = Field(description="count, sum, min, max, avg, first, last or list.")
    column: str | None = Field(default=None, description="The column aggregated; for count, omit it to count the rows.")


class GroupParams(_Params):
    table: Any = Field(description=_TABLE)
    by: list[str] = Field(default_factory=list, description="Columns to group on (none: one group of all rows).")
    aggregates: dict[str, Aggregate] = Field(
        description="Output column -> aggregate, e.g. {'total': {'op': 'sum', 'column': 'amount'}}."
    )

    @field_validator("aggregates")
    @classmethod
    def _columns_given(cls, value: dict[str, Aggregate]) -> dict[str, Aggregate]:
        for name, agg in value.items():
            if agg.column is None and agg.op != "count":
                raise ValueError(f"aggregate '{name}': '{agg.op}' needs a column")
        return value


def _aggregate_group(rows: list[Row], aggregates: dict[str, Aggregate]) -> Row:
    out: Row = {}
    for name, agg in aggregates.items():
        if agg.column is None:
            out[name] = len(rows)
        else:
            out[name] = aggregate(agg.op, [row.get(agg.column) for row in rows], agg.column)
    return out


@step("data.group", params=GroupParams, output="One row per group: group columns, then aggregates.", effects=False)
def group_rows(params: GroupParams) -> Table:
    """Group rows on columns and aggregate each group (groups in order of first appearance).

    Example node: `{"type": "data.group", "params": {"table": "{{ steps.read.output }}", "by": ["country"],
    "aggregates": {"orders": {"op": "count"}, "total": {"op": "sum", "column": "amount"}}}}`.
    """
    table = check_table(params.table, "data.group: table")
    used = [a.column for a in params.aggregates.values() if a.column is not None]
    _require_columns(table, [*params.by, *used], "data.group")
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in table:
        groups.setdefault(group_key(row, params.by), []).append(row)
    if not params.by and not groups:
        groups[()] = []
    result = []
    for rows in groups.values():
        head = {name: rows[0].get(name) for name in params.by} if rows else {}
        result.append({**head, **_aggregate_group(rows, params.aggregates)})
    return result


class JoinParams(_Params):
    left: Any = Field(description="The left table.")
    right: Any = Field(description="The right table.")
    on: list[str] = Field(min_length=1, description="Key columns, present in both tables under these names.")
    how: Literal["inner", "left", "right", "full"] = Field(
        default="inner", description="inner: matches only; left/right: every row of that side; full: both."
    )
    suffix: str = Field(
        default="_right", min_length=1, description="Added to a right column whose name the left table uses."
    )


def _joined(left: Row | None, right: Row | None, params: JoinParams, names: tuple[list[str], list[str]]) -> Row:
    left_names, right_names = names
    out: Row = {name: (left or {}).get(name) for name in left_names}
    for key in params.on:
        if left is None and right is not None:
            out[key] = right.get(key)
    for name in right_names:
        if name in params.on:
            continue
        out[name + params.suffix if name in left_names else name] = (right or {}).get(name)
    return out


@step("data.join", params=JoinParams, output="The joined rows: left columns, then right columns.", effects=False)
def join_tables(params: JoinParams) -> Table:
    """Join two tables on key columns (inner, left, right or full).

    Example node: `{"type": "data.join", "params": {"left": "{{ steps.orders.output }}",
    "right": "{{ steps.customers.output }}", "on": ["customer_id"], "how": "left"}}`.
    """
    left = check_table(params.left, "data.join: left")
    right = check_table(params.right, "data.join: right")
    _require_columns(left, params.on, "data.join: on (left)")
    _require_columns(right, params.on, "data.join: on (right)")
    names = (columns(left) or list(params.on), columns(right) or list(params.on))
    index: dict[tuple[Any, ...], list[int]] = {}
    for position, row in enumerate(right):
        index.setdefault(group_key(row, params.on), []).append(position)
    matched_right: set[int] = set()
    result: Table = []
    for row in left:
        hits = index.get(group_key(row, params.on), [])
        matched_right.update(hits)
        result.extend(_joined(row, right[i], params, names) for i in hits)
        if not hits and params.how in ("left", "full"):
            result.append(_joined(row, None, params, names))
    if params.how in ("right", "full"):
        result.extend(_joined(None, r, params, names) for i, r in enumerate(right) if i not in matched_right)
    return result


class DedupeParams(_Params):
    table: Any = Field(description=_TABLE)
    columns: list[str] | None = Field(default=None, description="Columns that make a row a duplicate (default: all).")
    keep: Literal["first", "last"] = Field(default="first", description="Which of the duplicates to keep.")


@step("data.dedupe", params=DedupeParams, output="The rows without duplicates, in their order.", effects=False)
def dedupe_rows(params: DedupeParams) -> Table:
    """Remove duplicate rows (equal on all columns, or on the given ones).

    Example node: `{"type": "data.dedupe", "params": {"table": "{{ steps.read.output }}", "columns": ["email"]}}`.
    """
    table = check_table(params.table, "data.dedupe: table")
    names = params.columns if params.columns is not None else columns(table)
    _require_columns(table, names, "data.dedupe: columns")
    chosen: dict[tuple[Any, ...], int] = {}
    for position, row in enumerate(table):
        key = group_key(row, names)
        if params.keep == "last" or key not in chosen:
            chosen[key] = position
    return [table[i] for i in sorted(chosen.values())]


class PivotParams(_Params):
    table: Any = Field(description=_TABLE)
    index: list[str] = Field(min_length=1, description="Columns that identify an output row.")
    columns: str = Field(description="The column whose values become output column names.")
    values: str = Field(description="The column whose values fill the new columns.")
    aggregate: AggregateOp = Field(default="first", description="How several values for one cell combine.")


@step("data.pivot", params=PivotParams, output="One row per index value, one column per distinct value.", effects=False)
def pivot_rows(params: PivotParams) -> Table:
    """Turn the values of one column into columns (long to wide).

    Example node: `{"type": "data.pivot", "params": {"table": "{{ steps.read.output }}", "index": ["region"],
    "columns": "month", "values": "sales", "aggregate": "sum"}}`.
    """
    table = check_table(params.table, "data.pivot: table")
    _require_columns(table, [*params.index, params.columns, params.values], "data.pivot")
    new_columns: dict[str, None] = {}
    cells: dict[tuple[Any, ...], dict[str, list[Any]]] = {}
    heads: dict[tuple[Any, ...], Row] = {}
    for row in table:
        key = group_key(row, params.index)
        heads.setdefault(key, {name: row.get(name) for name in params.index})
        name = str(row.get(params.columns))
        new_columns.setdefault(name, None)
        cells.setdefault(key, {}).setdefault(name, []).append(row.get(params.values))
    result = []
    for key, head in heads.items():
        out = dict(head)
        for name in new_columns:
            values = cells[key].get(name)
            out[name] = None if values is None else aggregate(params.aggregate, values, params.values)
        result.append(out)
    return result


class UnpivotParams(_Params):
    table: Any = Field(description=_TABLE)
    keep: list[str] = Field(default_factory=list, description="Columns repeated on every output row.")
    columns: list[str] | None = Field(default=None, description="Columns turned into rows (default: all others).")
    name_column: str = Field(default="column", min_length=1, description="Output column holding the column name.")
    value_column: str = Field(default="value", min_length=1, description="Output column holding the value.")


@step("data.unpivot", params=UnpivotParams, output="One row per input row and unpivoted column.", effects=False)
def unpivot_rows(params: UnpivotParams) -> Table:
    """Turn columns into rows (wide to long), the reverse of data.pivot.

    Example node: `{"type": "data.unpivot", "params": {"table": "{{ steps.read.output }}", "keep": ["region"],
    "name_column": "month", "value_column": "sales"}}`.
    """
    table = check_table(params.table, "data.unpivot: table")
    known = columns(table)
    melt = params.columns if params.columns is not None else [c for c in known if c not in params.keep]
    _require_columns(table, [*params.keep, *melt], "data.unpivot")
    result = []
    for row in table:
        head = {name: row.get(name) for name in params.keep}
        for name in melt:
            result.append({**head, params.name_column: name, params.value_column: row.get(name)})
    return result


class SliceParams(_Params):
    table: Any = Field(description=_TABLE)
    start: int = Field(default=0, description="First row (0-based; negative counts from the end).")
    stop: int | None = Field(default=None, description="Row after the last one kept (negative counts from the end).")
    limit: int | None = Field(default=None, ge=0, description="At most this many rows, counted from start.")


@step("data.slice", params=SliceParams, output="The rows from start to stop, at most limit of them.", effects=False)
def slice_rows(params: SliceParams) -> Table:
    """Take a range of rows (first N, last N, a page).

    Example node: `{"type": "data.slice", "params": {"table": "{{ steps.read.output }}", "start": 0, "limit": 10}}`.
    """
    table = check_table(params.table, "data.slice: table")
    rows = table[params.start : params.stop]
    return rows if params.limit is None else rows[: params.limit]


TABLE_STEPS = (
    filter_rows,
    sort_rows,
    map_rows,
    group_rows,
    join_tables,
    dedupe_rows,
    pivot_rows,
    unpivot_rows,
    slice_rows,
)
