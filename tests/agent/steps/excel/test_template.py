"""resources/templates/excel_report.json: valid for `rpa validate`, and runs with `rpa run`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.steps._rpa import rpa
from tests.agent.steps.excel.conftest import load

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "resources" / "templates" / "excel_report.json"


def _flow(tmp_path: Path) -> Path:
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(json.loads(TEMPLATE.read_text(encoding="utf-8"))["flow"]), encoding="utf-8")
    return flow


def test_the_template_validates(tmp_path: Path) -> None:
    done = rpa("validate", str(_flow(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_template_runs_and_writes_the_workbook(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "region;amount;customer\nnorth;120.5;Ann\nsouth;80;Bob\nnorth;300;Cy\neast;n/a;Dee\nsouth;150;Eve\n",
        encoding="cp1252",
    )
    workbook = tmp_path / "out" / "report.xlsx"
    inputs = ["--input", f"csv={orders}", "--input", f"workbook={workbook}", "--input", "min_amount=100"]
    done = rpa("run", str(_flow(tmp_path)), "--json", *inputs)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["outputs"]["kept"] == 3
    assert report["outputs"]["totals"] == [
        {"region": "north", "orders": 2, "total": 420.5, "average": 210.25},
        {"region": "south", "orders": 1, "total": 150, "average": 150.0},
    ]
    book = load(workbook)
    assert book.sheetnames == ["Orders", "Totals"]
    totals = book["Totals"]
    assert [c.value for c in totals[2]] == ["north", 2, 420.5, 210.25]
    assert totals["C2"].number_format == "#,##0.00"
    assert totals["A1"].font.b is True
    assert totals.column_dimensions["A"].width == 8
    assert [c.value for c in book["Orders"][1]] == ["region", "amount", "customer"]
