"""The orchestrator's commands on a fresh machine: no configuration, a new data dir.

`rpa db upgrade`, `rpa admin create`, `rpa orchestrator` (a real uvicorn process on a real port),
a login over HTTP, `rpa vault rotate-master-key` while the server runs, and a credential that
still opens afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

RPA = str(Path(sys.executable).parent / "rpa")
PASSWORD = "Fresh-Machine-42-Start"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env["HOME"] = str(home)  # the default data dir lives under it
    return env


def _rpa(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RPA, *args], capture_output=True, text=True, env=env, input=stdin, timeout=120)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str], subprocess.Popen[str]]]:
    data = tmp_path / "data"
    env = _env(tmp_path / "home")
    upgraded = _rpa("db", "upgrade", "--data-dir", str(data), env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    created = _rpa(
        "admin",
        "create",
        "--email",
        "owner@example.com",
        "--org",
        "Acme",
        "--data-dir",
        str(data),
        env=env,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    port = _free_port()
    process = subprocess.Popen(
        [RPA, "orchestrator", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "the orchestrator did not become ready in 60 s"
        time.sleep(0.2)
    try:
        yield url, data, env, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_first_start_admin_login_and_master_key_rotation(
    server: tuple[str, Path, dict[str, str], subprocess.Popen[str]],
) -> None:
    url, data, env, process = server
    secrets = {p.name: p.stat().st_mode & 0o777 for p in data.iterdir() if p.suffix == ".key"}
    assert secrets, "the first start made no key files"
    assert set(secrets.values()) == {0o600}

    login = httpx.post(f"{url}/api/v1/auth/login", json={"email": "owner@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = httpx.post(
        f"{url}/api/v1/credentials",
        headers=headers,
        json={"name": "erp", "kind": "token", "value": {"token": "tok-e2e-4242-abcdef"}},
    )
    assert made.status_code == 201, made.text

    rotated = _rpa("vault", "rotate-master-key", "--data-dir", str(data), env=env)
    assert rotated.returncode == 0, rotated.stderr
    status = _rpa("vault", "status", "--data-dir", str(data), env=env)
    assert status.returncode == 0, status.stderr

    # The running server follows the new key: the credential can still be rotated (decrypt + re-seal).
    again = httpx.post(
        f"{url}/api/v1/credentials/{made.json()['id']}/rotate",
        headers=headers,
        json={"value": {"token": "tok-e2e-rotated-987654"}},
    )
    assert again.status_code == 200, again.text

    bad = httpx.post(f"{url}/api/v1/auth/login", json={"email": "owner@example.com", "password": "wrong-password"})
    assert bad.status_code == 401
    assert set(bad.json()) == {"error"}

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert "tok-e2e" not in output
    assert PASSWORD not in output
