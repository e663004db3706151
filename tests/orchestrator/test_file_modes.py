"""Every file and folder the orchestrator creates is private to its user, whichever `rpa` command
creates the data dir first: real commands, under the usual umask 022."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.orchestrator._live import EMAIL, PASSWORD, env_for, live_server, rpa


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what a login shell has: files 0644, folders 0755 unless we say otherwise
    try:
        yield
    finally:
        os.umask(previous)


def _modes(root: Path) -> dict[str, str]:
    """Every path under `root` (itself included) whose mode lets group or others in."""
    loose = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            loose[str(path.relative_to(root.parent))] = f"{mode:o}"
    return loose


def test_rpa_admin_create_first_makes_a_private_data_dir_and_database(tmp_path: Path) -> None:
    env = env_for(tmp_path / "home")
    made = rpa("admin", "create", "--email", EMAIL, "--org", "Acme", env=env, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    data = tmp_path / "home" / ".local" / "share" / "rpa-orchestrator"  # the default data dir
    assert (data / "orchestrator.db").is_file()
    assert _modes(data) == {}


def test_rpa_db_upgrade_first_makes_a_private_data_dir_and_database(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    upgraded = rpa("db", "upgrade", "--data-dir", str(data), env=env_for(tmp_path / "home"))
    assert upgraded.returncode == 0, upgraded.stderr
    assert (data / "orchestrator.db").is_file()
    assert _modes(data.parent) == {}


def test_a_running_orchestrator_keeps_its_database_wal_and_keys_private(tmp_path: Path) -> None:
    with live_server(tmp_path / "live", owner=True) as server:
        server.login()  # a write: the WAL and SHM exist now
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        names = {p.name for p in server.data.iterdir()}
        assert {"orchestrator.db", "orchestrator.db-wal", "orchestrator.db-shm", "secret.key", "master.key"} <= names
        assert _modes(server.data) == {}


def test_the_agent_s_commands_keep_its_files_private(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.orchestrator._live import RPA

    with live_server(tmp_path / "live", owner=True) as server:
        token = httpx.post(f"{server.url}/api/v1/agents/enrolment-tokens", json={}, headers=server.login()).json()[
            "token"
        ]
        home = tmp_path / "agent" / "home"
        env = {**env_for(tmp_path / "agent-user"), "RPA_AGENT_HOME": str(home)}
        key_file = tmp_path / "agent" / "keys" / "agent.key"
        enrolled = rpa("agent", "enroll", server.url, token, "--name", "private", "--key-file", str(key_file), env=env)
        assert enrolled.returncode == 0, enrolled.stderr
        agent = subprocess.Popen(
            [RPA, "agent", "--key-file", str(key_file)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            while not (home / "outbox.db").exists():
                assert agent.poll() is None, "the agent stopped"
                assert time.monotonic() < deadline, "the agent made no outbox in 60 s"
                time.sleep(0.2)
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
    assert key_file.is_file()
    assert _modes(tmp_path / "agent") == {}
