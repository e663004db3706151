"""`rpa ARGS` in this process, for the step families' template tests.

These tests are about the flows, not the console script (tests/cli runs that as a process): in a
subprocess each command imported the CLI, the engine and the step family again, about a second
of CPU each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from cli._app import app


@dataclass(frozen=True)
class Done:
    """What a finished command left: its exit code and its two output streams."""

    returncode: int
    stdout: str
    stderr: str


def rpa(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Done:
    """Run `rpa ARGS` in-process (in `cwd`, with `env` added to the environment).

    Raises:
        AssertionError: the command raised something other than a clean exit.
    """
    before = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"rpa {' '.join(args)} raised {result.exception!r}") from result.exception
    return Done(result.exit_code, result.stdout, result.stderr)
