"""Paging and live refresh of the executions list, without I/O: it says which query to send and
folds the answer in; the view sends the queries off the UI thread.

The API lists executions newest first with a keyset cursor, and has no "changed since" order.
So a refresh (a poll, every few seconds) asks for every execution created since the oldest one
in view that is not over yet (or since the newest one, when all are over): that answer holds
the new executions and the current state of every unfinished one. An unfinished row in that
window missing from a complete answer no longer matches the filter (it finished under a
`state=running` filter): it leaves. When more changed than `POLL_PAGES` pages hold, the list
loads again from the top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from studio.views.monitor.model._actions import is_terminal
from studio.views.monitor.model._filters import ExecutionFilter, parse_time
from studio.views.monitor.model._rows import ExecutionRows, Row, RowListener, RowOp

PAGE_SIZE = 500
"""Rows per request (the API's largest page)."""
POLL_PAGES = 4
"""Pages one refresh may follow before it gives up and reloads from the top."""


@dataclass
class Poll:
    """One refresh under way: its window start and the rows received so far."""

    since: datetime | None
    watched: frozenset[str]
    items: list[Row] = field(default_factory=list)
    pages: int = 0


class LiveExecutions:
    """The list's rows, filter, and paging state.

    Args:
        listener: hears every row operation (the Qt table model).
        page_size: rows per request.
    """

    def __init__(self, listener: RowListener | None = None, *, page_size: int = PAGE_SIZE) -> None:
        self.rows = ExecutionRows(listener)
        self.filter = ExecutionFilter()
        self.page_size = page_size
        self.next_cursor: str | None = None
        self.total: int | None = None
        self.total_capped = False
        self.loaded_once = False
        self.generation = 0
        """Bumped by each new filter: answers to older queries are dropped."""

    # -- paging -------------------------------------------------------------------------------

    def set_filter(self, new: ExecutionFilter) -> dict[str, Any]:
        """Show `new`: the rows are dropped, and the first page's query is returned."""
        self.filter = new
        self.generation += 1
        self.rows.clear()
        self.next_cursor, self.total, self.loaded_once = None, None, False
        return self.first_page()

    def first_page(self) -> dict[str, Any]:
        """The query of the newest page."""
        return {**self.filter.query(), "limit": self.page_size}

    @property
    def can_fetch_more(self) -> bool:
        """An older page exists (the table asks when it is scrolled to the end)."""
        return self.next_cursor is not None

    def more(self) -> dict[str, Any] | None:
        """The query of the next older page, or None at the end."""
        if self.next_cursor is None:
            return None
        return {**self.filter.query(), "limit": self.page_size, "cursor": self.next_cursor}

    def take_page(self, page: Mapping[str, Any]) -> list[RowOp]:
        """Fold in an answer to `first_page()` or `more()`."""
        self.next_cursor = page.get("next_cursor")
        self.total = page.get("total")
        self.total_capped = bool(page.get("total_capped"))
        self.loaded_once = True
        return self.rows.merge(page.get("items") or (), self.filter)

    # -- live refresh -------------------------------------------------------------------------

    def start_poll(self) -> tuple[Poll, dict[str, Any]]:
        """A refresh: its state and its first query."""
        unfinished = [row for row in self.rows.rows if not is_terminal(str(row.get("state")))]
        anchor = unfinished[-1] if unfinished else (self.rows.rows[0] if self.rows.rows else None)
        since = parse_time(anchor.get("created_at")) if anchor is not None else None
        poll = Poll(since, frozenset(str(row["id"]) for row in unfinished))
        return poll, {**self.filter.query(created_after=since), "limit": self.page_size}

    def poll_page(self, poll: Poll, page: Mapping[str, Any]) -> dict[str, Any] | None:
        """Keep an answer of a refresh; the next query when the window has more pages, else None."""
        poll.items += page.get("items") or ()
        poll.pages += 1
        cursor = page.get("next_cursor")
        if cursor is None or poll.pages >= POLL_PAGES:
            poll.pages = -1 if cursor is not None else poll.pages  # -1: the window was not read to its end
            return None
        return {**self.filter.query(created_after=poll.since), "limit": self.page_size, "cursor": cursor}

    def finish_poll(self, poll: Poll) -> list[RowOp] | None:
        """Fold a refresh in; None when it overflowed (reload with `set_filter(self.filter)`)."""
        if poll.pages < 0:
            return None
        ops = self.rows.merge(poll.items, self.filter)
        seen = {str(row["id"]) for row in poll.items}
        ops += self.rows.remove_where(lambda row: str(row["id"]) in poll.watched and str(row["id"]) not in seen)
        if self.total is not None:
            self.total += sum(op.count for op in ops if op.kind == "insert") - sum(op.kind == "remove" for op in ops)
        return ops
