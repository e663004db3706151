"""The example flows of the pdf and word families: valid for `rpa validate`, runnable with `rpa run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.agent.steps._rpa import Done, rpa

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "resources" / "templates"
ASSETS = TEMPLATES / "assets"


def _flow_file(name: str, folder: Path) -> Path:
    document = json.loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))["flow"]
    path = folder / f"{name}.flow.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _rpa(*args: str, cwd: Path) -> Done:
    return rpa(*args, cwd=cwd)


def _run(flow: Path, cwd: Path, *args: str) -> dict[str, Any]:
    done = _rpa("run", str(flow), "--json", *args, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("name", ["pdf_invoice", "word_letter"])
def test_example_flow_is_valid(name: str, tmp_path: Path) -> None:
    done = _rpa("validate", str(_flow_file(name, tmp_path)), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_pdf_invoice_flow_reads_the_checked_in_invoice(tmp_path: Path) -> None:
    result = _run(_flow_file("pdf_invoice", tmp_path), tmp_path, "-i", f"file={ASSETS / 'invoice.pdf'}")
    assert result["status"] == "succeeded"
    assert result["outputs"] == {
        "invoice_number": "INV-2026-0042",
        "date": "2026-12-07",
        "total": "170.50 EUR",
        "lines": [
            {"Item": "Paper A4", "Qty": "10", "Price": "4.50"},
            {"Item": "Toner black", "Qty": "2", "Price": "61.00"},
            {"Item": "Stapler", "Qty": "1", "Price": "12.25"},
        ],
        "scanned_pages": [],
    }


def test_pdf_invoice_flow_opens_an_encrypted_invoice_with_a_credential(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(ASSETS / "invoice.pdf"))
    writer.encrypt(user_password="inv-pass-77", algorithm="AES-256")
    locked = tmp_path / "locked.pdf"
    writer.write(locked)
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"invoice_pdf": "inv-pass-77"}), encoding="utf-8")
    flow = _flow_file("pdf_invoice", tmp_path)
    result = _run(flow, tmp_path, "-i", f"file={locked}", "-i", "password=invoice_pdf", "--secrets", str(secrets))
    assert result["outputs"]["invoice_number"] == "INV-2026-0042"
    done = _rpa("run", str(flow), "--json", "-i", f"file={locked}", cwd=tmp_path)
    assert done.returncode == 1
    failed = json.loads(done.stdout)
    assert "'locked.pdf' is encrypted" in failed["error"]["message"]


def test_word_letter_flow_fills_the_checked_in_template(tmp_path: Path) -> None:
    output = tmp_path / "letter.docx"
    flow = _flow_file("word_letter", tmp_path)
    result = _run(flow, tmp_path, "-i", f"template={ASSETS / 'letter.docx'}", "-i", f"output={output}")
    assert result["outputs"]["greeting"] == "Dear Ann Lee, your order A-17 is ready."
    assert result["outputs"]["rows"] == 2
    assert result["outputs"]["lines"][-1] == {"Item": "Total", "Qty": "", "Price": "57.25"}
    assert output.is_file()
