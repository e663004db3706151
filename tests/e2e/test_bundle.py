"""The PyInstaller bundle of the `rpa` command builds and runs a flow without the source tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_rpa_bundle_builds_and_runs_a_flow(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            str(ROOT / "build_spec.py"),
            "rpa",
            "--dist",
            str(tmp_path / "dist"),
            "--work",
            str(tmp_path / "build"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    program = tmp_path / "dist" / "rpa" / "rpa"
    assert program.is_file()

    flow = ROOT / "resources" / "flows" / "demo" / "order-triage.json"
    ran = subprocess.run(
        [str(program), "run", str(flow), "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["status"] == "succeeded"
    assert result["outputs"]["report"].startswith("6 orders")

    invalid = tmp_path / "bad.json"
    invalid.write_text('{"schema": "rpa.flow/1", "name": "x", "nodes": [{"id": "a", "type": "core.nop"}]}')
    checked = subprocess.run([str(program), "validate", str(invalid)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 2
    assert "core.noop" in checked.stderr
    assert "Traceback" not in checked.stderr
