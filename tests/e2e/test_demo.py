"""`make demo` runs `rpa demo`: an orchestrator and two agents as real processes, the demo flows
through the API, an agent killed mid-run and its execution resumed by the other, a robot that
enters an invoice in a local web app through Chromium, its screenshots kept as artifacts, and a
webhook and a schedule trigger."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli._demo_web import WEB_FLOW
from cli._demo_web_app import LedgerApp
from cli.supervise import new_password
from tests.e2e._cluster import processes_mentioning

RPA = str(Path(sys.executable).parent / "rpa")
INVOICE = Path(__file__).resolve().parents[2] / "resources" / "templates" / "assets" / "invoice.pdf"
PNG = b"\x89PNG\r\n\x1a\n"
# Every password the demo makes (the owner's and the web app's) comes from `new_password`.
DEMO_PASSWORD = re.compile(rb"Rpa-[A-Za-z0-9_-]{16}-9a")
ARTIFACT_LINE = re.compile(r"artifact (shot_\w+/[\w.-]+\.png): ([\d,]+) bytes, image/png, id ([0-9a-f-]{36})")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(360)
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
    assert re.search(r"invoice INV-2026-0042 entered in the web app as REF-\d{4}-0001-[0-9A-F]{4}, 3 screenshots", out)
    assert "webhook: 2 calls, 1 execution (flagged W-1)" in out
    assert re.search(r"schedule: [2-9] executions every 2 s, then paused", out)
    assert out.count("succeeded │") >= 6 or out.count("│ succeeded") >= 6
    assert "Traceback" not in out + done.stderr
    assert processes_mentioning(str(tmp_path)) == []  # the demo stops what it started (Chromium included)

    # The screenshots are the orchestrator's artifacts: listed with their sizes, stored as PNGs.
    listed = ARTIFACT_LINE.findall(out)
    assert [name.rsplit("/", 1)[1] for name, _, _ in listed] == [
        "1-invoice-form.png",
        "2-confirmation.png",
        "3-invoice-list.png",
    ]
    (root,) = tmp_path.glob("rpa-demo-*")
    for _name, size, artifact_id in listed:
        (stored,) = (root / "orchestrator" / "artifacts").glob(f"*/*/{artifact_id}")
        assert stored.read_bytes().startswith(PNG)
        assert stored.stat().st_size == int(size.replace(",", ""))

    # The web app's password (and the owner's) is nowhere: output, logs, files, file names.
    assert DEMO_PASSWORD.fullmatch(new_password().encode())  # control: the pattern finds one
    assert not DEMO_PASSWORD.search((out + done.stderr).encode())
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p for p in files if p.name.endswith(".log")], "the demo keeps its logs under its root"
    assert [str(p) for p in files if DEMO_PASSWORD.search(p.read_bytes()) or DEMO_PASSWORD.search(bytes(p))] == []


@pytest.mark.slow
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


@pytest.mark.browser
def test_the_web_demo_flow_enters_the_invoice_with_rpa_run(tmp_path: Path) -> None:
    """The demo's flow alone, on `rpa run` with the credential from a secrets file: what the demo
    shows is what the flow does, and the reference it outputs is the one the web app saved."""
    password = new_password()
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(json.dumps({"ledger": {"username": "robot", "password": password}}), encoding="utf-8")
    with LedgerApp({"robot": password}) as app:
        inputs = ["-i", f"invoice={INVOICE}", "-i", f"app_url={app.url}"]
        done = subprocess.run(
            [RPA, "run", str(WEB_FLOW), "--json", "--secrets", str(secrets), *inputs],
            capture_output=True,
            text=True,
            timeout=100,
            cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
        saved = app.invoices
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert len(saved) == 1
    assert saved[0].number == "INV-2026-0042"
    assert saved[0].date == "2026-12-07"
    assert saved[0].lines == (("Paper A4", 10, "4.50"), ("Toner black", 2, "61.00"), ("Stapler", 1, "12.25"))
    assert result["outputs"]["reference"] == saved[0].reference
    assert result["outputs"]["invoices_listed"] == 1
    shots = sorted(tmp_path.glob(f".rpa-artifacts/{result['execution_id']}/shot_*/*.png"), key=lambda p: p.name)
    assert [p.name for p in shots] == ["1-invoice-form.png", "2-confirmation.png", "3-invoice-list.png"]
    assert all(p.read_bytes().startswith(PNG) for p in shots)
    assert password not in done.stdout + done.stderr
