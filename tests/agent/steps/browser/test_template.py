"""The browser example flow validates and runs with `rpa run` against the test site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.flow import validate_document
from shared.steps import StepRegistry
from tests.agent.steps.browser.flows import start_rpa
from tests.agent.steps.browser.site import PASSWORD, USER, SiteServer

TEMPLATE = Path(__file__).resolve().parents[4] / "resources" / "templates" / "browser_form.json"


def test_the_example_flow_is_valid() -> None:
    flow = json.loads(TEMPLATE.read_text())["flow"]
    assert [p.to_dict() for p in validate_document(flow, StepRegistry.default())] == []


@pytest.mark.browser
def test_the_example_flow_runs_with_rpa_run(browser_site: SiteServer, tmp_path: Path) -> None:
    flow_file = tmp_path / "browser_form.json"
    flow_file.write_text(json.dumps(json.loads(TEMPLATE.read_text())["flow"]))
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"shop": {"username": USER, "password": PASSWORD}}))
    before = len(browser_site.submissions)
    args = ["run", str(flow_file), "--json", "--secrets", str(secrets), "-i", f"base_url={browser_site.base_url}"]
    # A temporary folder deeper than Chromium's socket path allows ("Socket path too long"): an
    # agent run from a deep folder must still start its browser.
    deep = tmp_path / ("t" * 70)
    deep.mkdir()
    process = start_rpa(args, tmp_path, tmp_path / "state", {"TMPDIR": str(deep)})
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "succeeded"
    assert result["outputs"]["confirmation"] == "Received"
    rows = result["outputs"]["rows"]
    assert len(rows) == 12
    assert rows[0] == {"name": "Item 1", "region": "South", "amount": "10.5"}
    posted = browser_site.submissions[before]
    assert (posted["name"], posted["due"], posted["country"], posted["urgent"]) == (
        "Ann Lee",
        "2026-12-24",
        "fr",
        "yes",
    )
    assert (posted["item0"], posted["price0"], posted["item1"], posted["price1"]) == ("Bolts", "4.20", "Nuts", "1.10")
