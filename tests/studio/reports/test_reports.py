"""The report tables and writers without a window: rows from the API's JSON, CSV and Excel files
that read back the same, and clear errors for a bad table or format."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from studio.reports import (
    ReportError,
    Table,
    breached,
    dashboard_tables,
    executions_table,
    export_report,
    tables_html,
    write_xlsx,
)

DASHBOARD: dict[str, Any] = {
    "since": "2026-12-07T00:00:00Z",
    "until": "2026-12-07T02:00:00Z",
    "bucket": "hour",
    "generated_at": "2026-12-07T02:00:00Z",
    "total": 3,
    "states": {"succeeded": 2, "failed": 1},
    "buckets": [
        {"start": "2026-12-07T00:00:00Z", "counts": {"succeeded": 2}},
        {"start": "2026-12-07T01:00:00Z", "counts": {"failed": 1}},
    ],
    "workflows": [
        {
            "workflow_id": "w1",
            "name": "Invoices <EU>",
            "count": 3,
            "succeeded": 2,
            "failed": 1,
            "cancelled": 0,
            "active": 0,
            "success_rate": 2 / 3,
            "p50_seconds": 12.04,
            "p95_seconds": 80.0,
            "max_seconds": 80.0,
            "sla_seconds": 60,
            "breached": 0,
        }
    ],
    "agents": {"total": 2, "online": 1, "busy": 0, "unresponsive": 0, "offline": 1},
    "queue": {"depth": 0, "oldest_wait_seconds": None, "p50_wait_seconds": 1.0, "p95_wait_seconds": 2.5},
}


def test_dashboard_tables_hold_the_figures_and_a_p95_over_the_sla_is_a_breach() -> None:
    summary, workflows, over_time = dashboard_tables(DASHBOARD)
    assert ["Executions", 3] in summary.rows
    assert ["Oldest wait (s)", None] in summary.rows
    assert workflows.rows == [["Invoices <EU>", 3, 2, 1, 0, 0, 66.7, 12.0, 80.0, 60, 0]]
    assert over_time.columns == ("Start", "failed", "succeeded", "Total")
    assert [row[1:] for row in over_time.rows] == [[0, 2, 2], [1, 0, 1]]
    assert breached(DASHBOARD["workflows"][0])  # no execution counted over, but p95 is
    assert not breached({"breached": 0, "sla_seconds": None, "p95_seconds": 80.0})


def test_executions_table_reads_the_api_items() -> None:
    table = executions_table(
        [
            {
                "id": "e1",
                "workflow_name": "Invoices",
                "version_number": 2,
                "state": "succeeded",
                "priority": "normal",
                "trigger": {"type": "schedule", "by": None},
                "created_at": "2026-12-07T10:00:00Z",
                "started_at": "2026-12-07T10:00:01Z",
                "finished_at": "2026-12-07T10:00:31.5Z",
            },
            {"id": "e2", "workflow_name": "Invoices", "state": "queued", "trigger": {"type": "manual"}},
        ]
    )
    assert table.rows[0][5] == "schedule"
    assert table.rows[0][-1] == 30.5
    assert table.rows[1][-1] is None


def test_csv_and_excel_read_back_the_same_rows(tmp_path: Path) -> None:
    tables = dashboard_tables(DASHBOARD)
    [single] = export_report(tables[1:2], tmp_path / "workflows.csv")
    with single.open(encoding="utf-8") as stream:
        assert list(csv.reader(stream))[1][:3] == ["Invoices <EU>", "3", "2"]
    twice = [Table("Same: name/", ("a",), [[1]]), Table("Same: name/", ("a",), [[2]])]
    [xlsx] = write_xlsx(twice, tmp_path / "twice.xlsx")
    from openpyxl import load_workbook

    book = load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["Same  name", "Same  name (2)"]
    assert [list(s.iter_rows(values_only=True)) for s in book.worksheets] == [[("a",), (1,)], [("a",), (2,)]]
    book.close()
    assert "Invoices &lt;EU&gt;" in tables_html(tables, "Report")


def test_bad_tables_and_formats_are_refused_with_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Broken: row 1 has 1 cells for 2 columns"):
        Table("Broken", ("a", "b"), [[1]])
    with pytest.raises(ReportError, match=r"unknown report format '.odt' of x.odt"):
        export_report([], tmp_path / "x.odt")
    with pytest.raises(ReportError, match="cannot write"):
        export_report(dashboard_tables(DASHBOARD)[:1], tmp_path / "missing" / "x.csv")
