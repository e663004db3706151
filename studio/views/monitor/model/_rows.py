"""The executions the list holds, newest first, changed by small operations a table model follows.

`ExecutionRows` keeps rows ordered as the API pages them (`created_at` then `id`, descending)
and merges rows received from any page or poll. A merge is a few block operations (remove one
row, insert a run of rows at one place, update one row in place); a listener hears each one
before and after it is applied, which is what `QAbstractTableModel`'s `beginInsertRows` /
`endInsertRows` need, so a 10,000-row list changes by the rows that changed, never by a reset.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from studio.views.monitor.model._filters import ExecutionFilter, parse_time

Row = dict[str, Any]
SortKey = tuple[float, int]


@dataclass(frozen=True, slots=True)
class RowOp:
    """One change: `insert` of `count` rows at `index`, `remove` of the row at `index`, or `update`."""

    kind: str
    index: int
    count: int = 1


class RowListener(Protocol):
    """Hears each operation before the rows change and after (a Qt model's begin/end calls)."""

    def before(self, op: RowOp) -> None: ...

    def after(self, op: RowOp) -> None: ...


def _id_number(ident: str) -> int:
    try:
        return uuid.UUID(ident).int
    except ValueError:
        return int.from_bytes(ident.encode()[:16].ljust(16, b"\0"), "big")


def sort_key(row: Mapping[str, Any]) -> SortKey:
    """Ascending key of the list's descending order (newest `created_at` first, then larger id)."""
    created = parse_time(row.get("created_at"))
    return (-(created.timestamp() if created else 0.0), -_id_number(str(row["id"])))


class ExecutionRows:
    """Rows in list order with their ids; `merge` brings in rows, `remove_missing` drops rows."""

    def __init__(self, listener: RowListener | None = None) -> None:
        self.rows: list[Row] = []
        self._keys: list[SortKey] = []
        self._index: dict[str, int] = {}
        self.listener = listener

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, ident: object) -> bool:
        return ident in self._index

    def index_of(self, ident: str) -> int | None:
        """The row's position, or None when it is not in the list."""
        return self._index.get(ident)

    def get(self, ident: str) -> Row | None:
        """The row with `ident`, or None."""
        at = self._index.get(ident)
        return self.rows[at] if at is not None else None

    def clear(self) -> None:
        """Drop every row (a new filter)."""
        if self.rows:
            op = RowOp("reset", 0, len(self.rows))
            self._before(op)
            self.rows, self._keys, self._index = [], [], {}
            self._after(op)

    def merge(self, incoming: Iterable[Mapping[str, Any]], accept: ExecutionFilter | None = None) -> list[RowOp]:
        """Bring `incoming` rows in: known ones are updated (or removed when `accept` now refuses
        them), new accepted ones inserted in order. Returns the operations applied."""
        ops: list[RowOp] = []
        fresh: dict[str, Row] = {}
        for raw in incoming:
            row = dict(raw)
            ident = str(row["id"])
            known = self._index.get(ident)
            if known is None:
                if accept is None or accept.matches(row):
                    fresh[ident] = row
            elif accept is not None and not accept.matches(row):
                ops.append(self._remove(known))
            elif row != self.rows[known]:
                ops.append(self._update(known, row))
        ops += self._insert_all(fresh.values())
        return ops

    def remove_where(self, gone: Callable[[Row], bool]) -> list[RowOp]:
        """Remove the rows `gone` says left the list (newest first order is kept)."""
        doomed = [row["id"] for row in self.rows if gone(row)]
        return [self._remove(self._index[str(ident)]) for ident in doomed]

    # -- the operations -----------------------------------------------------------------------

    def _before(self, op: RowOp) -> None:
        if self.listener is not None:
            self.listener.before(op)

    def _after(self, op: RowOp) -> None:
        if self.listener is not None:
            self.listener.after(op)

    def _update(self, at: int, row: Row) -> RowOp:
        op = RowOp("update", at)
        self._before(op)
        self.rows[at] = row
        self._after(op)
        return op

    def _remove(self, at: int) -> RowOp:
        op = RowOp("remove", at)
        self._before(op)
        gone = self.rows.pop(at)
        del self._keys[at]
        del self._index[str(gone["id"])]
        self._reindex(at)
        self._after(op)
        return op

    def _insert_all(self, rows: Iterable[Row]) -> list[RowOp]:
        """Insert in blocks: new rows that land between the same two known rows go in at once."""
        keyed = sorted(((sort_key(row), row) for row in rows), key=lambda pair: pair[0])
        blocks: list[tuple[int, list[tuple[SortKey, Row]]]] = []
        for key, row in keyed:
            at = bisect.bisect_left(self._keys, key)
            if blocks and blocks[-1][0] == at:
                blocks[-1][1].append((key, row))
            else:
                blocks.append((at, [(key, row)]))
        ops: list[RowOp] = []
        shift = 0
        for at, block in blocks:
            ops.append(self._insert(at + shift, block))
            shift += len(block)
        return ops

    def _insert(self, at: int, block: Sequence[tuple[SortKey, Row]]) -> RowOp:
        op = RowOp("insert", at, len(block))
        self._before(op)
        self._keys[at:at] = [key for key, _ in block]
        self.rows[at:at] = [row for _, row in block]
        self._reindex(at)
        self._after(op)
        return op

    def _reindex(self, start: int) -> None:
        index = self._index
        for position in range(start, len(self.rows)):
            index[str(self.rows[position]["id"])] = position
