"""`make demo` runs `rpa demo`: an orchestrator and two agents as real processes, the demo flows
through the API, an agent killed mid-run and its execution resumed by the other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e._cluster import processes_mentioning

RPA = str(Path(sys.executable).parent / "rpa")

pytestmark = pytest.mark.slow


def test_rpa_demo_runs_the_real_shape_and_summarises_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update({"HOME": str(tmp_path), "COLUMNS": "200", "TMPDIR": str(tmp_path)})
    done = subprocess.run([RPA, "demo"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    out = done.stdout
    assert "Demo summary" in out
    assert "killed robot-" in out
    assert "0 steps ran twice" in out
    assert "20/20 succeeded" in out
    assert "6 orders from east, north, south" in out
    assert "invoice INV-2026-0042, total 170.50 EUR: 3 lines written to invoice-lines.xlsx" in out
    assert out.count("succeeded │") >= 3 or out.count("│ succeeded") >= 3
    assert "Traceback" not in out + done.stderr
    assert processes_mentioning(str(tmp_path)) == []  # the demo stops what it started


def test_rpa_demo_local_runs_in_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [RPA, "demo", "--local"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Demo summary" in done.stdout
