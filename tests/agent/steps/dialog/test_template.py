"""resources/templates/dialog_approval.json: valid for `rpa validate`, and runs headless with
`rpa run` (every dialog answers with its default: there is no dialog host)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "resources" / "templates" / "dialog_approval.json"
RPA = [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]


def _flow(tmp_path: Path) -> Path:
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(json.loads(TEMPLATE.read_text(encoding="utf-8"))["flow"]), encoding="utf-8")
    return flow


def test_the_template_validates(tmp_path: Path) -> None:
    done = subprocess.run([*RPA, "validate", str(_flow(tmp_path))], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_bad_form_is_refused_by_validate_with_its_path(tmp_path: Path) -> None:
    document = json.loads(TEMPLATE.read_text(encoding="utf-8"))["flow"]
    document["nodes"][0]["params"]["fields"].append({"name": "customer"})
    flow = tmp_path / "bad.json"
    flow.write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run([*RPA, "validate", str(flow)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "nodes[0].params" in done.stdout + done.stderr
    assert "appear twice: customer" in done.stdout + done.stderr


def test_the_template_runs_headless_on_its_defaults(tmp_path: Path) -> None:
    done = subprocess.run([*RPA, "run", str(_flow(tmp_path)), "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["outputs"] == {"customer": "ACME", "region": "EU", "lines": 2, "sent": True}
