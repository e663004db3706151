"""`rpa studio` and `python -m studio` start the designer (a real process, offscreen)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_THREAD_LIMIT": "1"}


def test_rpa_studio_help_names_the_file_argument() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "studio", "--help"], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Open the studio" in done.stdout
    assert "file" in done.stdout.lower()


def test_python_m_studio_opens_a_file_and_quits_after_the_test_hook(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({"schema": "rpa.flow/1", "name": "smoke", "nodes": []}) + "\n", encoding="utf-8")
    config = tmp_path / "config"
    done = subprocess.run(
        [sys.executable, "-m", "studio", str(flow), "--config", str(config), "--quit-after", "0.5"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    settings = json.loads((config / "settings.json").read_text(encoding="utf-8"))
    assert settings["recent_files"] == [str(flow.resolve())]
    assert (config / "window.ini").is_file()


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "studio", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "no such flow file" in done.stderr
