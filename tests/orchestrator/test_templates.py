"""Flow templates: each one valid and runnable with today's built-in steps; listed and instantiated by the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.services.templates import TEMPLATES_DIR, load_templates, read_template
from shared.engine import Engine
from shared.flow import Flow, validate_document
from shared.steps import StepRegistry
from shared.steps.builtin import BUILTIN_STEPS
from tests.orchestrator._workflows_helpers import API, audit_actions

TEMPLATE_FILES = sorted(TEMPLATES_DIR.glob("*.json"))
ALLOWED_PREFIXES = ("control.", "data.", "core.")


def _types(graph: dict[str, Any]) -> set[str]:
    found = set()
    for node in graph.get("nodes", []):
        found.add(node["type"])
        for name in ("body", "catch", "finally"):
            if name in node:
                found |= _types(node[name])
    return found


def test_there_are_a_few_templates() -> None:
    assert 3 <= len(TEMPLATE_FILES) <= 5
    assert set(load_templates()) == {p.stem for p in TEMPLATE_FILES}


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.stem)
def test_each_template_is_valid_with_built_in_steps_only(path: Path) -> None:
    template = read_template(path)
    assert all((template.title, template.description, template.category))
    # A template that declares `requires` may also use the steps of those capabilities
    # (e.g. `ocr.*` with `requires: ["ocr"]`); its own family's tests run it.
    requires = set(template.document.get("requires", []))
    registry = StepRegistry.default() if requires else StepRegistry(BUILTIN_STEPS)
    assert [p.to_dict() for p in validate_document(template.document, registry)] == []
    types = _types(template.document)
    family = {t for t in types if not (t.startswith(ALLOWED_PREFIXES) or t == "flow.call")}
    assert all(registry.get(t).capability in requires for t in family), (family, requires)
    assert all(t in registry for t in types)


class _Flows:
    """Sub-flows by name, as the orchestrator would resolve published workflows."""

    def __init__(self, flows: dict[str, dict[str, Any]]) -> None:
        self.flows = {name: Flow.model_validate(doc) for name, doc in flows.items()}

    def load(self, reference: str, caller: Flow) -> Flow:
        return self.flows[reference]


DOUBLE = {
    "schema": "rpa.flow/1",
    "name": "double",
    "inputs": {"item": {}},
    "nodes": [
        {"id": "is_number", "type": "control.if", "params": {"condition": "{{ inputs.item is number }}"}},
        {"id": "refuse", "type": "core.fail", "params": {"message": "not a number: {{ inputs.item }}"}},
        {"id": "twice", "type": "core.noop", "params": {"value": "{{ inputs.item * 2 }}"}},
    ],
    "edges": [
        {"from": "is_number", "port": "false", "to": "refuse"},
        {"from": "is_number", "port": "true", "to": "twice"},
    ],
    "outputs": {"value": "{{ steps.twice.output }}"},
}
NEVER_READY = {"schema": "rpa.flow/1", "name": "never", "nodes": [], "outputs": {"ready": False}}
READY = {"schema": "rpa.flow/1", "name": "ready", "nodes": [], "outputs": {"ready": True, "url": "https://x"}}

RUNS = [
    (
        "csv-report",
        {"csv_text": "id,region,amount\n1,north,10.5\n2,south,3\n3,north,7\n4,east,n/a", "min_value": 5},
        "succeeded",
        {"kept": 2, "summary": "north: 2 rows, total 17.50\n", "csv": "id,region,amount\n1,north,10.5\n3,north,7\n"},
    ),
    (
        "batch-with-error-handling",
        {"items": [1, "x", 3], "item_flow": "double"},
        "succeeded",
        {
            "succeeded": [0, 2],
            "failed": [{"index": 1, "error": "not a number: x"}],
            "results": [{"value": 2}, None, {"value": 6}],
        },
    ),
    ("batch-with-error-handling", {"items": [1, "x"], "item_flow": "double", "fail_if_any": True}, "failed", {}),
    (
        "poll-until-ready",
        {"check_flow": "ready", "interval_s": 0},
        "succeeded",
        {"attempts": 1, "result": {"ready": True, "url": "https://x"}},
    ),
    ("poll-until-ready", {"check_flow": "never", "interval_s": 0, "max_attempts": 3}, "failed", {}),
    (
        "extract-from-text",
        {"text": "Invoice INV-2041 from billing@acme.example\nTotal: 1250.00 EUR"},
        "succeeded",
        {
            "fields": [
                {"field": "invoice_number", "value": "INV-2041"},
                {"field": "email", "value": "billing@acme.example"},
                {"field": "total", "value": "1250.00"},
            ],
            "missing": [],
        },
    ),
    (
        "extract-from-text",
        {"text": "Hello bob@example.com"},
        "succeeded",
        {"fields": [{"field": "email", "value": "bob@example.com"}], "missing": ["invoice_number", "total"]},
    ),
]


@pytest.mark.parametrize(
    ("template_id", "inputs", "status", "outputs"), RUNS, ids=[f"{r[0]}-{r[2]}-{i}" for i, r in enumerate(RUNS)]
)
async def test_templates_run_with_the_engine(
    template_id: str, inputs: dict[str, Any], status: str, outputs: dict[str, Any], tmp_path: Path
) -> None:
    engine = Engine(
        StepRegistry(BUILTIN_STEPS),
        loader=_Flows({"double": DOUBLE, "never": NEVER_READY, "ready": READY}),
        artifacts_dir=tmp_path,
    )
    result = await engine.run(Flow.model_validate(load_templates()[template_id].document), inputs)
    assert result.status == status, result.error
    if status == "succeeded":
        assert result.outputs == outputs


async def test_templates_are_listed_with_their_inputs(client: httpx.AsyncClient, tenant) -> None:
    viewer = await tenant(org_id=(await tenant()).org_id, role="viewer")
    response = await client.get(f"{API}/templates", headers=viewer.headers)
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == len(TEMPLATE_FILES)
    by_id = {t["id"]: t for t in page["items"]}
    assert set(by_id) == {p.stem for p in TEMPLATE_FILES}
    csv = by_id["csv-report"]
    assert (csv["title"], csv["category"]) == ("CSV summary report", "data")
    assert csv["inputs"]["csv_text"]["required"] is True
    assert "flow" not in csv
    assert "document" not in csv
    paged = (await client.get(f"{API}/templates", params={"limit": 1, "offset": 1}, headers=viewer.headers)).json()
    assert [t["id"] for t in paged["items"]] == [page["items"][1]["id"]]
    patterns = (await client.get(f"{API}/templates", params={"category": "patterns"}, headers=viewer.headers)).json()
    assert {t["id"] for t in patterns["items"]} == {"batch-with-error-handling", "poll-until-ready"}
    detail = (await client.get(f"{API}/templates/csv-report", headers=viewer.headers)).json()
    assert detail["document"] == json.loads((TEMPLATES_DIR / "csv-report.json").read_text())["flow"]
    assert (await client.get(f"{API}/templates/nope", headers=viewer.headers)).status_code == 404
    assert (await client.get(f"{API}/templates/..%2F..%2Fpyproject", headers=viewer.headers)).status_code in (404, 422)
    assert (await client.get(f"{API}/templates")).status_code == 401


async def test_instantiate_creates_a_valid_draft(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    response = await client.post(
        f"{API}/templates/poll-until-ready/instantiate", json={"name": "Wait for report"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    workflow = response.json()
    assert response.headers["location"] == f"/api/v1/workflows/{workflow['id']}"
    assert workflow["problems"] == []
    assert (workflow["name"], workflow["draft"]["name"]) == ("Wait for report", "Wait for report")
    assert (workflow["category"], workflow["tags"]) == ("patterns", ["polling", "sub-flow", "wait"])
    assert workflow["latest_version"] is None
    template = load_templates()["poll-until-ready"]
    assert {k: v for k, v in workflow["draft"].items() if k != "name"} == {
        k: v for k, v in template.document.items() if k != "name"
    }
    assert (
        await client.post(f"{API}/workflows/{workflow['id']}/publish", json={}, headers=owner.headers)
    ).status_code == 201
    custom = (
        await client.post(
            f"{API}/templates/csv-report/instantiate",
            json={"name": "Sales", "category": "sales", "tags": [], "description": "mine"},
            headers=owner.headers,
        )
    ).json()
    assert (custom["category"], custom["tags"], custom["description"]) == ("sales", [], "mine")
    assert await audit_actions(app, owner.org_id, workflow["id"]) == ["workflow.create", "workflow.publish"]

    taken = await client.post(f"{API}/templates/csv-report/instantiate", json={"name": "Sales"}, headers=owner.headers)
    assert taken.status_code == 409
    missing = await client.post(f"{API}/templates/nope/instantiate", json={"name": "X"}, headers=owner.headers)
    assert missing.status_code == 404
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    forbidden = await client.post(f"{API}/templates/csv-report/instantiate", json={"name": "Y"}, headers=viewer.headers)
    assert forbidden.status_code == 403


def test_a_broken_template_file_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps({"template": {"title": "Good"}, "flow": {"schema": "rpa.flow/1"}}))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "bare.json").write_text(json.dumps({"schema": "rpa.flow/1", "name": "no template block"}))
    assert list(load_templates(tmp_path)) == ["good"]
    with pytest.raises(ValueError, match="template"):
        read_template(tmp_path / "bare.json")
