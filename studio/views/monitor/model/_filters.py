"""The executions list's filter: what the API filters, and what the monitor filters itself.

`GET /executions` filters by workflow, states, trigger type, creation date range and a search
text (`q`: workflow name contains, or id prefix). It has no agent filter, so the agent is
checked on the rows received (`matches`); every row received is checked the same way, so a
row that stops matching (a running execution that finished, under a `running` filter) leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An API timestamp (ISO 8601, `Z` or an offset) as an aware datetime; None when empty."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class ExecutionFilter:
    """What the executions list shows. Empty fields do not filter."""

    workflow_id: str | None = None
    states: tuple[str, ...] = ()
    agent_id: str | None = None
    trigger: str | None = None
    created_after: datetime | None = None
    """Inclusive."""
    created_before: datetime | None = None
    """Exclusive."""
    search: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More query parameters passed through as they are."""

    def query(self, *, created_after: datetime | None = None) -> dict[str, Any]:
        """The `GET /executions` query of this filter; `created_after` narrows the start (a poll)."""
        params: dict[str, Any] = dict(self.extra)
        if self.workflow_id:
            params["workflow_id"] = self.workflow_id
        if self.states:
            params["state"] = list(self.states)
        if self.trigger:
            params["trigger"] = self.trigger
        after = self.created_after
        if created_after is not None and (after is None or created_after > after):
            after = created_after
        if after is not None:
            params["created_after"] = after.isoformat()
        if self.created_before is not None:
            params["created_before"] = self.created_before.isoformat()
        if self.search.strip():
            params["q"] = self.search.strip()
        return params

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Whether an execution (as the API returns it) passes every field of the filter."""
        if self.agent_id and str(row.get("agent_id") or "") != self.agent_id:
            return False
        if self.workflow_id and str(row.get("workflow_id")) != self.workflow_id:
            return False
        if self.states and row.get("state") not in self.states:
            return False
        if self.trigger and (row.get("trigger") or {}).get("type") != self.trigger:
            return False
        return self._in_range(parse_time(row.get("created_at"))) and self._found(row)

    def _in_range(self, created: datetime | None) -> bool:
        if created is None:
            return self.created_after is None and self.created_before is None
        if self.created_after is not None and created < self.created_after:
            return False
        return self.created_before is None or created < self.created_before

    def _found(self, row: Mapping[str, Any]) -> bool:
        text = self.search.strip().lower()
        if not text:
            return True
        return text in str(row.get("workflow_name", "")).lower() or str(row.get("id", "")).startswith(text)
