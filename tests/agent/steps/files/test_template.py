"""The `files_archive` template: valid for `rpa validate`, and run for real by `rpa run` on local folders."""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

from orchestrator.services.templates import TEMPLATES_DIR
from tests.agent.steps._rpa import Done, rpa


def _flow(tmp_path: Path) -> Path:
    document = json.loads((TEMPLATES_DIR / "files_archive.json").read_text(encoding="utf-8"))["flow"]
    path = tmp_path / "files_archive.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _rpa(*args: str) -> Done:
    return rpa(*args)


def _run(flow: Path, **inputs: Any) -> dict[str, Any]:
    pairs = [arg for name, value in inputs.items() for arg in ("--input", f"{name}={json.dumps(value)}")]
    result = _rpa("run", str(flow), "--json", *pairs)
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_the_template_validates(tmp_path: Path) -> None:
    result = _rpa("validate", str(_flow(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_the_template_archives_old_files_and_recycles_them(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "old.csv").write_text("old")
    (inbox / "sub" / "older.csv").write_text("older")
    (inbox / "new.csv").write_text("new")
    past = time.time() - 40 * 86400
    for path in (inbox / "old.csv", inbox / "sub" / "older.csv"):
        os.utime(path, (past, past))
    flow = _flow(tmp_path)
    report = _run(flow, inbox=str(inbox), archive_folder=str(tmp_path / "archive"), pattern="*.csv")
    assert report["status"] == "succeeded"
    outputs = report["outputs"]
    assert outputs["archived"] == 2
    archive = Path(outputs["archive"])
    assert archive.parent == tmp_path / "archive"
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["old.csv", "older.csv"]
    assert outputs["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert sorted(p.name for p in inbox.rglob("*.csv") if ".recycle" not in p.parts) == ["new.csv"]
    assert len(list((inbox / ".recycle").iterdir())) == 1
    again = _run(flow, inbox=str(inbox), archive_folder=str(tmp_path / "archive"))
    assert again["outputs"] == {"archived": 0, "archive": None, "sha256": None}
