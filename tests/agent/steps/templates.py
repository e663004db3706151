"""Run a template of `resources/templates/` with the `rpa` command, as a user would (in-process,
through the command's own entry point, which saves a Python start per call)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from cli._app import app

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "resources" / "templates"


def flow_file(name: str, folder: Path) -> Path:
    """The template's flow document, written alone to a file `rpa` can read."""
    document = json.loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))["flow"]
    path = folder / f"{name}.flow.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def rpa(*args: str) -> Result:
    """`rpa ARGS`; an exception other than a clean exit fails the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"rpa {' '.join(args)} raised {result.exception!r}") from result.exception
    return result


def run_template(name: str, folder: Path, inputs: dict[str, Any], secrets: dict[str, str] | None = None) -> Any:
    """`rpa validate` then `rpa run --json`; returns the parsed result."""
    path = flow_file(name, folder)
    valid = rpa("validate", str(path))
    assert valid.exit_code == 0, valid.output
    # The journal's folder also holds the run's artifacts (else the current directory would).
    args = ["run", str(path), "--json", "--journal", str(folder / "journal.db")]
    for key, value in inputs.items():
        args += ["--input", f"{key}={json.dumps(value)}"]
    if secrets is not None:
        secrets_file = folder / "secrets.json"
        secrets_file.write_text(json.dumps(secrets), encoding="utf-8")
        args += ["--secrets", str(secrets_file)]
    done = rpa(*args)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)
