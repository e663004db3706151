"""`resources/templates/http_api.json` validates and runs with `rpa run` against the loopback site."""

from __future__ import annotations

from pathlib import Path

from tests.agent.steps.http import server as srv
from tests.agent.steps.templates import run_template


def test_http_api_template_runs(server: srv.LoopbackSite, tmp_path: Path) -> None:
    before = len(server.seen["/echo"])
    result = run_template(
        "http_api",
        tmp_path,
        {"list_url": f"{server.url}/pages/cursor", "report_url": f"{server.url}/echo"},
        secrets={"api": srv.TOKEN},
    )
    assert result["status"] == "succeeded", result
    outputs = result["outputs"]
    assert outputs["rows"] == len(srv.ROWS)
    assert outputs["report_status"] == 200
    assert outputs["echo"]["json"] == {"rows": len(srv.ROWS), "first": srv.ROWS[0]}
    assert server.seen["/echo"][before]["headers"]["authorization"] == f"Bearer {srv.TOKEN}"
    assert srv.TOKEN not in str(result)
