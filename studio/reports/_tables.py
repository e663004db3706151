"""The figures of a report as plain tables, built from the orchestrator's JSON.

A `Table` is a title, column names and rows of plain values (str, int, float, None); every
writer (CSV, Excel, PDF) and the dashboard's own table show the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Cell = str | int | float | None

EXECUTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "Execution"),
    ("workflow_name", "Workflow"),
    ("version_number", "Version"),
    ("state", "State"),
    ("priority", "Priority"),
    ("trigger_type", "Trigger"),
    ("created_at", "Created"),
    ("started_at", "Started"),
    ("finished_at", "Finished"),
    ("duration_seconds", "Duration (s)"),
)


@dataclass(frozen=True)
class Table:
    """A titled table: `columns` names, `rows` of the same length."""

    title: str
    columns: Sequence[str]
    rows: list[list[Cell]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, 1):
            if len(row) != len(self.columns):
                raise ValueError(f"{self.title}: row {number} has {len(row)} cells for {len(self.columns)} columns")


def _seconds(value: Any) -> float | None:
    return round(float(value), 1) if isinstance(value, int | float) else None


def percent(rate: float | None) -> float | None:
    """A 0..1 rate as a percentage with one decimal (None stays None)."""
    return round(rate * 100, 1) if rate is not None else None


def breached(figures: dict[str, Any]) -> bool:
    """Whether a workflow's figures show an SLA breach (an execution over it, or p95 over it)."""
    sla = figures.get("sla_seconds")
    p95 = figures.get("p95_seconds")
    return bool(figures.get("breached")) or (sla is not None and p95 is not None and p95 > sla)


WORKFLOW_COLUMNS = (
    "Workflow",
    "Executions",
    "Succeeded",
    "Failed",
    "Cancelled",
    "Active",
    "Success %",
    "p50 (s)",
    "p95 (s)",
    "SLA (s)",
    "Breaches",
)


def workflow_rows(dashboard: dict[str, Any]) -> list[list[Cell]]:
    """One row per workflow of a `GET /dashboard` answer, in `WORKFLOW_COLUMNS` order."""
    return [
        [
            w["name"],
            w["count"],
            w["succeeded"],
            w["failed"],
            w["cancelled"],
            w["active"],
            percent(w["success_rate"]),
            _seconds(w["p50_seconds"]),
            _seconds(w["p95_seconds"]),
            w["sla_seconds"],
            w["breached"],
        ]
        for w in dashboard["workflows"]
    ]


def _states_of(dashboard: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(dashboard.get("states", {}))
    for bucket in dashboard["buckets"]:
        seen.update(dict.fromkeys(bucket["counts"]))
    return sorted(seen)


def dashboard_tables(dashboard: dict[str, Any]) -> list[Table]:
    """A `GET /dashboard` answer as tables: summary, per workflow, executions over time."""
    agents, queue = dashboard["agents"], dashboard["queue"]
    summary = Table(
        "Summary",
        ("Figure", "Value"),
        [
            ["Period from", str(dashboard["since"])],
            ["Period to", str(dashboard["until"])],
            ["Executions", dashboard["total"]],
            *[[f"State: {state}", n] for state, n in sorted(dashboard["states"].items())],
            ["Agents", agents["total"]],
            ["Agents online", agents["online"]],
            ["Agents busy", agents["busy"]],
            ["Agents offline", agents["offline"] + agents.get("unresponsive", 0)],
            ["Queue depth", queue["depth"]],
            ["Oldest wait (s)", _seconds(queue["oldest_wait_seconds"])],
            ["p95 wait (s)", _seconds(queue["p95_wait_seconds"])],
        ],
    )
    states = _states_of(dashboard)
    over_time = Table(
        f"Executions by {dashboard['bucket']}",
        ("Start", *states, "Total"),
        [
            [str(b["start"]), *[b["counts"].get(s, 0) for s in states], sum(b["counts"].values())]
            for b in dashboard["buckets"]
        ],
    )
    return [summary, Table("Workflows", WORKFLOW_COLUMNS, workflow_rows(dashboard)), over_time]


def _duration(execution: dict[str, Any]) -> float | None:
    start, end = execution.get("started_at"), execution.get("finished_at")
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def executions_table(executions: Iterable[dict[str, Any]], title: str = "Executions") -> Table:
    """A list of executions (`GET /executions` items) as a table."""
    rows: list[list[Cell]] = []
    for execution in executions:
        trigger = execution.get("trigger")
        values = {
            **execution,
            "trigger_type": trigger.get("type") if isinstance(trigger, dict) else trigger,
            "duration_seconds": _duration(execution),
        }
        rows.append([_cell(values.get(key)) for key, _ in EXECUTION_COLUMNS])
    return Table(title, [name for _, name in EXECUTION_COLUMNS], rows)


def _cell(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)
