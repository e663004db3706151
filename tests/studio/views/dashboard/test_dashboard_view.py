"""The dashboard dock against a real orchestrator: figures, chart, SLA breaches highlighted,
live refresh off the Qt thread, exports that open with openpyxl and a PDF reader, and a screenshot."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from openpyxl import load_workbook

from shared.client import ApiClient
from studio.views.dashboard import ClientApi, DashboardView, dashboard_dock
from tests.studio.views.dashboard.conftest import save_shot

pytestmark = pytest.mark.gui


def _view(qtbot: Any, api: Any) -> DashboardView:
    view = DashboardView(api)
    qtbot.addWidget(view)
    view.resize(1100, 720)
    return view


async def test_the_dashboard_shows_the_figures_and_highlights_sla_breaches(qtbot: Any, seeded: dict[str, Any]) -> None:
    view = _view(qtbot, seeded["api"])
    assert view.timer.isActive()  # live by default
    assert await view.refresh()
    assert view.figures["total"].text() == "9"
    assert view.figures["success"].text() == "83.3 %"  # 5 succeeded of 6 ended (the older one too)
    assert view.figures["offline"].text() == "1"
    assert view.figures["depth"].text() == "1"
    assert view.table.rowCount() == 2
    assert view.breached_rows() == ["Invoices"]
    names = {view.table.item(r, 0).text() for r in range(2)}
    assert names == {"Invoices", "Reports"}
    assert sum(sum(b["counts"].values()) for b in view.chart.buckets) == 9
    assert {"succeeded", "failed", "cancelled", "running", "queued"} <= set(view.chart.states())
    view.show()
    qtbot.waitExposed(view)
    assert save_shot(view, "studio-dashboard.png")


async def test_the_timer_refreshes_in_the_background_and_errors_are_shown(qtbot: Any, seeded: dict[str, Any]) -> None:
    view = _view(qtbot, seeded["api"])
    view.schedule()
    pending = view.pending
    assert pending is not None
    assert not pending.done()
    view.schedule()
    assert view.pending is pending  # one refresh at a time
    await pending
    assert view.data is not None
    assert view.data["total"] == 9
    refused = ClientApi(ApiClient(seeded["api"].client.url, access_token="not-a-token"))
    view.set_api(refused)
    assert view.data is None
    assert view.figures["total"].text() == "\u2013"
    assert view.pending is not None
    await asyncio.wait_for(view.pending, 30)
    assert view.status.text().startswith("Could not load the dashboard")
    view.set_api(None)
    assert not view.timer.isActive()
    assert view.pending is not None
    assert view.pending.done()  # nothing left running once signed out
    assert "Sign in" in view.status.text()


def test_the_dock_factory_uses_the_windows_api_when_it_has_one(qtbot: Any) -> None:
    class Window:
        orchestrator_api = None

    dock = dashboard_dock(None, Window())
    qtbot.addWidget(dock)
    assert dock.api is None
    assert not dock.timer.isActive()


async def test_reports_of_the_dashboard_and_of_the_executions_open_and_hold_the_rows(
    qtbot: Any, seeded: dict[str, Any], tmp_path: Path
) -> None:
    view = _view(qtbot, seeded["api"])
    assert await view.refresh()

    [xlsx] = await view.export_dashboard(tmp_path / "dashboard.xlsx")
    book = load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["Summary", "Workflows", "Executions by hour"]
    workflows = list(book["Workflows"].iter_rows(values_only=True))
    assert workflows[0][:3] == ("Workflow", "Executions", "Succeeded")
    invoices = next(r for r in workflows if r[0] == "Invoices")
    assert invoices[1:4] == (7, 5, 1)
    assert invoices[-2:] == (60, 2)
    book.close()

    written = await view.export_dashboard(tmp_path / "dashboard.csv")
    assert [p.name for p in written] == [
        "dashboard-summary.csv",
        "dashboard-workflows.csv",
        "dashboard-executions-by-hour.csv",
    ]
    with written[1].open(encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows[0][0] == "Workflow"
    assert {r[0] for r in rows[1:]} == {"Invoices", "Reports"}

    [pdf] = await view.export_dashboard(tmp_path / "dashboard.pdf")
    text = _pdf_text(pdf)
    assert "Invoices" in text
    assert "Reports" in text
    assert "Queue depth" in text

    view.state_filter.setCurrentText("succeeded")
    [listed] = await view.export_executions(tmp_path / "executions.xlsx")
    book = load_workbook(listed, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    assert rows[0][:4] == ("Execution", "Workflow", "Version", "State")
    assert len(rows) == 1 + 5
    assert {r[3] for r in rows[1:]} == {"succeeded"}
    assert sorted(r[9] for r in rows[1:]) == [10, 20, 30, 100, 1000]  # durations in seconds

    reports = next(r for r in range(view.table.rowCount()) if view.table.item(r, 0).text() == "Reports")
    view.table.selectRow(reports)
    view.state_filter.setCurrentText("Any state")
    [of_reports] = await view.export_executions(tmp_path / "reports.csv")
    with of_reports.open(encoding="utf-8") as stream:
        assert sorted(r[3] for r in list(csv.reader(stream))[1:]) == ["queued", "running"]
    view.table.clearSelection()
    view.state_filter.setCurrentText("succeeded")

    [listed_pdf] = await view.export_executions(tmp_path / "executions.pdf")
    assert _pdf_text(listed_pdf).count("succeeded") >= 5
    assert await view.export_dashboard(tmp_path / "dashboard.txt") == []
    assert "unknown report format" in view.status.text()


def _pdf_text(path: Path) -> str:
    document = pypdfium2.PdfDocument(path)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
