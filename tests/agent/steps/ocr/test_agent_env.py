"""The agent process runs with OMP_THREAD_LIMIT=1 (tesseract children: see test_pdf)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.environment import PROCESS_ENV


def test_the_running_agent_sets_omp_thread_limit(agent_home, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")
    # Not enrolled: the agent stops at loading its identity, after setting its environment.
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2, result.output
    assert os.environ["OMP_THREAD_LIMIT"] == "1"
    assert PROCESS_ENV == {"OMP_THREAD_LIMIT": "1"}
