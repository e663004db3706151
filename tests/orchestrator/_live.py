"""`rpa orchestrator` as a real process on a real port, for attacks that need the real server
(uvicorn's own behaviour included): started with a fresh data dir and the given `RPA_` settings,
stopped by its pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

RPA = str(Path(sys.executable).parent / "rpa")
PASSWORD = "Live-Server-42-Robots!"
EMAIL = "owner@example.com"


@dataclass
class Live:
    url: str
    data: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def rss_kib(self) -> int:
        """The server's resident memory (KiB), from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def login(self, email: str = EMAIL, password: str = PASSWORD) -> dict[str, str]:
        response = httpx.post(f"{self.url}/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env["HOME"] = str(home)
    env["RPA_ENVIRONMENT"] = "test"
    env.update({f"RPA_{name.upper()}": value for name, value in settings.items()})
    return env


def rpa(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RPA, *args], capture_output=True, text=True, env=env, input=stdin, timeout=120)


def create_owner(data: Path, env: dict[str, str]) -> None:
    made = rpa(
        "admin", "create", "--email", EMAIL, "--org", "Acme", "--data-dir", str(data), env=env, stdin=PASSWORD + "\n"
    )
    assert made.returncode == 0, made.stderr


@contextmanager
def live_server(root: Path, *, owner: bool = False, **settings: str) -> Iterator[Live]:
    """`rpa orchestrator` on 127.0.0.1 with `RPA_<NAME>=value` for each of `settings`."""
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    env = env_for(root / "home", **settings)
    if owner:
        create_owner(data, env)
    port = free_port()
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [RPA, "orchestrator", "--port", str(port), "--data-dir", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (root / "server.log").read_text()
            assert time.monotonic() < deadline, "the orchestrator did not become ready in 60 s"
            time.sleep(0.2)
        yield Live(url, data, env, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
