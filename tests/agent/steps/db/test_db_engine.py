"""Transactions through the real engine: an execution that fails after `db.begin` leaves
nothing behind, one that commits keeps its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from shared.engine import Engine
from shared.flow import load_flow
from shared.steps import StepRegistry


def _flow(url: str, last: dict[str, Any]) -> dict[str, Any]:
    nodes = [
        {"id": "tx", "type": "db.begin", "params": {"url": url}},
        {"id": "add", "type": "db.insert", "params": {"transaction": "main", "table": "t", "rows": [{"v": "row"}]}},
        last,
    ]
    edges = [{"from": "tx", "to": "add"}, {"from": "add", "to": last["id"]}]
    return {"schema": "rpa.flow/1", "name": "tx", "nodes": nodes, "edges": edges}


async def test_the_engine_rolls_back_an_uncommitted_transaction(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (v TEXT)")
    url = f"sqlite:///{database}"
    registry = StepRegistry.default()
    engine = Engine(registry, artifacts_dir=tmp_path / "artifacts")

    failing = _flow(url, {"id": "boom", "type": "core.fail", "params": {"message": "bad data"}})
    result = await engine.run(load_flow(failing, registry=registry), {})
    assert result.status == "failed"
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)

    committing = _flow(url, {"id": "done", "type": "db.commit", "params": {}})
    result = await engine.run(load_flow(committing, registry=registry), {})
    assert result.status == "succeeded", result.error
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT v FROM t").fetchall() == [("row",)]
