"""Run a template of `resources/templates/` with the `rpa` command, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "resources" / "templates"
RPA = str(Path(sys.executable).parent / "rpa")


def flow_file(name: str, folder: Path) -> Path:
    """The template's flow document, written alone to a file `rpa` can read."""
    document = json.loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))["flow"]
    path = folder / f"{name}.flow.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def rpa(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env["HOME"] = str(cwd)
    return subprocess.run([RPA, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def run_template(name: str, folder: Path, inputs: dict[str, Any], secrets: dict[str, str] | None = None) -> Any:
    """`rpa validate` then `rpa run --json`; returns the parsed result."""
    path = flow_file(name, folder)
    valid = rpa("validate", str(path), cwd=folder)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    args = ["run", str(path), "--json"]
    for key, value in inputs.items():
        args += ["--input", f"{key}={json.dumps(value)}"]
    if secrets is not None:
        secrets_file = folder / "secrets.json"
        secrets_file.write_text(json.dumps(secrets), encoding="utf-8")
        args += ["--secrets", str(secrets_file)]
    done = rpa(*args, cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)
