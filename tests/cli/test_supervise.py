"""`cli.supervise`: its own error types, and `rpa up` reporting a start-up that ran out of time as
a clear error (real processes: the `rpa` console script and the orchestrator it starts)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import cli.supervise
from cli.supervise import RPA, ChildExited, StartupTimeout, SupervisionError, WaitTimeout, free_port, wait_for
from tests.e2e._cluster import processes_mentioning


def test_public_names_are_pinned() -> None:
    assert sorted(cli.supervise.__all__) == [
        "ChildExited",
        "CommandFailed",
        "LocalAgent",
        "LocalOrchestrator",
        "LocalRun",
        "RPA",
        "StartupTimeout",
        "SupervisionError",
        "WaitTimeout",
        "clean_env",
        "free_port",
        "new_password",
        "rpa_command",
        "wait_for",
    ]
    for name in cli.supervise.__all__:
        assert hasattr(cli.supervise, name), f"cli.supervise.{name} is exported but missing"


def test_wait_for_returns_the_first_true_value() -> None:
    values = iter([None, 0, "ready"])
    assert wait_for(lambda: next(values), 5, "the values", interval=0) == "ready"


def test_wait_for_times_out_with_its_own_error_not_an_assertion() -> None:
    with pytest.raises(WaitTimeout) as caught:
        wait_for(lambda: False, 0, "the kettle", interval=0)
    assert not isinstance(caught.value, AssertionError)  # a bare `except AssertionError` must not swallow it
    assert isinstance(caught.value, SupervisionError)
    assert str(caught.value) == "timed out after 0 s waiting for the kettle"
    assert (caught.value.what, caught.value.timeout) == ("the kettle", 0)


def test_a_startup_timeout_names_what_did_not_come_up_and_its_log(tmp_path: Path) -> None:
    error = StartupTimeout("the orchestrator", 60, tmp_path / "orchestrator.log")
    assert isinstance(error, WaitTimeout)
    assert issubclass(ChildExited, SupervisionError)
    assert str(error) == f"the orchestrator did not come up within 60 s; see {tmp_path / 'orchestrator.log'}"


def _rpa_up(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"})
    return subprocess.run(
        [RPA, "up", "--port", str(free_port()), "--data-dir", str(tmp_path / "up"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_rpa_up_reports_a_startup_timeout_as_an_error_and_stops_the_orchestrator(tmp_path: Path) -> None:
    done = _rpa_up(tmp_path, "--startup-timeout", "0")
    assert done.returncode == 2, done.stdout + done.stderr
    log = tmp_path / "up" / "orchestrator.log"
    assert f"error: the orchestrator did not come up within 0 s; see {log}" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "stopped" in done.stdout
    assert processes_mentioning(str(tmp_path / "up")) == []  # nothing left running


def test_rpa_up_reports_an_orchestrator_that_exits_at_start(tmp_path: Path) -> None:
    (tmp_path / "up").mkdir(mode=0o700)
    (tmp_path / "up" / "orchestrator").write_text("a file where the data dir should be")
    done = _rpa_up(tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: the orchestrator exited; see" in done.stderr
    assert "Traceback (most recent call last)" not in done.stdout + done.stderr.split("exited; see")[0]
