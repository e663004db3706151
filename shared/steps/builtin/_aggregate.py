"""Aggregates of `data.group` and `data.pivot`, and the ordering `data.sort` uses.

Kept apart from the steps so both steps share one definition of what `sum` or `avg` means:
empty cells (None) are skipped by every aggregate but `count` of rows, `first`, `last` and
`list`; a value that is not a number in `sum` or `avg` is a business error naming the column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from shared.errors import BusinessError

AggregateOp = Literal["count", "sum", "min", "max", "avg", "first", "last", "list"]


def _numbers(values: Sequence[Any], column: str) -> list[int | float]:
    numbers: list[int | float] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BusinessError(f"column '{column}' holds {value!r}, not a number", kind="data")
        numbers.append(value)
    return numbers


def _sum(values: Sequence[Any], column: str) -> int | float:
    return sum(_numbers(values, column))


def _avg(values: Sequence[Any], column: str) -> float | None:
    numbers = _numbers(values, column)
    return sum(numbers) / len(numbers) if numbers else None


def _extreme(pick: Callable[..., Any]) -> Callable[[Sequence[Any], str], Any]:
    def aggregate(values: Sequence[Any], column: str) -> Any:
        present = [v for v in values if v is not None]
        if not present:
            return None
        try:
            return pick(present)
        except TypeError:
            raise BusinessError(f"column '{column}' mixes values that cannot be compared", kind="data") from None

    return aggregate


_AGGREGATES: dict[str, Callable[[Sequence[Any], str], Any]] = {
    "count": lambda values, _column: sum(1 for v in values if v is not None),
    "sum": _sum,
    "avg": _avg,
    "min": _extreme(min),
    "max": _extreme(max),
    "first": lambda values, _column: values[0] if values else None,
    "last": lambda values, _column: values[-1] if values else None,
    "list": lambda values, _column: list(values),
}


def aggregate(op: str, values: Sequence[Any], column: str) -> Any:
    """Apply one aggregate to the values of `column` in a group."""
    return _AGGREGATES[op](values, column)


_TYPE_RANK = {bool: 0, int: 0, float: 0, str: 1}


def sort_key(value: Any) -> tuple[int, Any]:
    """A key that orders any cell: numbers, then text, then other values (as text), then None."""
    if value is None:
        return (3, 0)
    rank = _TYPE_RANK.get(type(value))
    if rank is None:
        return (2, str(value))
    return (rank, value)


def group_key(row: dict[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    """The hashable key of a row for grouping, joining and deduplicating on `names`."""
    return tuple(_hashable(row.get(name)) for name in names)


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return ("__dict__", tuple(sorted((k, _hashable(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("__list__", tuple(_hashable(v) for v in value))
    # 1 and 1.0 and True group together in Python; keep booleans apart from numbers.
    if isinstance(value, bool):
        return ("__bool__", value)
    return value
