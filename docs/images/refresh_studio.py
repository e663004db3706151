"""Refresh the studio's screenshots in this folder: runs the suite's screenshot tests with
their output pointed here (`python docs/images/refresh_studio.py`, from the repository root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

if __name__ == "__main__":
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_THREAD_LIMIT": "1", "STUDIO_SCREENSHOTS": str(HERE)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "tests/studio/app/test_screenshots.py",
        "tests/studio/views/remote/test_sign_in_and_browse.py",
        "tests/studio/views/versions/test_versions.py::test_the_diff_of_two_versions_agrees_with_the_server",
        "tests/studio/views/ai/test_ai.py::test_a_described_flow_is_a_diff_accepted_as_one_undoable_edit",
        "tests/studio/views/dashboard/test_dashboard_view.py::test_the_dashboard_shows_the_figures_and_highlights_sla_breaches",
        "tests/studio/views/dashboard/test_admin_views.py::test_tokens_are_shown_once_and_agents_renamed_while_an_operator_only_reads",
    ]
    sys.exit(subprocess.call(command, cwd=ROOT, env=env))
