"""`resources/templates/db_report.json` validates and runs with `rpa run` on a SQLite file."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from tests.agent.steps.templates import run_template


def test_db_report_template_runs(tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.executescript(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount NUMERIC);"
            "CREATE TABLE region_totals (region TEXT, orders INTEGER, total NUMERIC);"
            "INSERT INTO region_totals VALUES ('stale', 1, 1);"
            "INSERT INTO orders (region, amount) VALUES ('north', 10.5), ('south', 3), ('north', 7), ('east', 20);"
        )
    result = run_template(
        "db_report",
        tmp_path,
        {"database_url": f"sqlite:///{database}", "min_amount": 5, "csv_path": str(tmp_path / "totals.csv")},
    )
    assert result["status"] == "succeeded", result
    assert result["outputs"]["regions"] == [
        {"region": "east", "orders": 1, "total": 20},
        {"region": "north", "orders": 2, "total": 17.5},
    ]
    assert result["outputs"]["rows"] == 2
    with (tmp_path / "totals.csv").open(newline="") as handle:
        assert list(csv.reader(handle)) == [["region", "orders", "total"], ["east", "1", "20"], ["north", "2", "17.5"]]
