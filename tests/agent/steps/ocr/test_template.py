"""The example flow resources/templates/ocr_invoice.json: valid, and runnable with `rpa run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agent.steps._rpa import Done
from tests.agent.steps._rpa import rpa as _rpa

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "resources" / "templates" / "ocr_invoice.json"
ASSET = ROOT / "resources" / "templates" / "assets" / "invoice_scan.png"


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ocr_invoice.flow.json"
    path.write_text(json.dumps(json.loads(TEMPLATE.read_text())["flow"]))
    return path


def rpa(*args: str) -> Done:
    return _rpa(*args, cwd=ROOT, env={"OMP_THREAD_LIMIT": "1"})


def test_the_template_validates(flow_file):
    done = rpa("validate", str(flow_file))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.ocr
def test_the_template_runs_on_its_scan(flow_file):
    done = rpa("run", str(flow_file), "--json", "-i", f"image={ASSET}")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    outputs = result["outputs"]
    assert outputs["invoice_number"] == "INV-20417"
    assert outputs["total"] == "307.20"
    assert outputs["tilt_degrees"] == pytest.approx(1.5, abs=0.25)
    # "Total due" is printed around (720-850, 675-700) on the tilted scan.
    assert 700 <= outputs["total_label_at"]["x"] <= 870
    assert 665 <= outputs["total_label_at"]["y"] <= 710


def test_validate_reports_bad_ocr_params_with_their_path():
    from shared.flow import validate_document
    from shared.steps import StepRegistry

    flow = {
        "schema": "rpa.flow/1",
        "name": "bad ocr params",
        "requires": ["ocr"],
        "nodes": [
            {"id": "read", "type": "ocr.read_text", "params": {"image": "a.png", "options": {"psm": 2}}},
            {"id": "pdf", "type": "ocr.read_pdf", "params": {"path": "a.pdf", "pages": "1-x"}},
            {"id": "fine", "type": "ocr.read_text", "params": {"image": "{{ inputs.image }}", "options": {"psm": 6}}},
        ],
    }
    problems = {p.path: p.message for p in validate_document(flow, StepRegistry.default())}
    assert set(problems) == {"$.nodes[0].params.options.psm", "$.nodes[1].params.pages"}, problems
    assert "unknown page segmentation mode 2" in problems["$.nodes[0].params.options.psm"]
    assert "'1-x' is not a page number or range" in problems["$.nodes[1].params.pages"]
