"""Real storage servers on loopback, one of each per session (the root conftest registers the
fixtures, so the step tests and the trigger-source tests share one of each).

- `s3_server`: moto's S3 server (`ThreadedMotoServer`) on 127.0.0.1; yields its endpoint URL.
- `ftp_server`: a pyftpdlib FTP server in a thread, one user, home in a temp folder.
- `sftp_server`: an asyncssh SSH/SFTP server in a thread, password login, rooted in a temp folder.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import moto_s3

S3_KEY_ID = "AKIAFILESTESTKEY0001"
S3_SECRET = "s3-secret-Zq8vLw2Rk5Tn"
FTP_USER = "robot"
FTP_PASSWORD = "ftp-pass-Hx7Jm3Qd9Wc"
SFTP_USER = "robot"
SFTP_PASSWORD = "sftp-pass-Gv5Tb1Xy6Pz"
SECRETS_IN_TESTS = (S3_SECRET, FTP_PASSWORD, SFTP_PASSWORD)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@dataclass
class FtpServer:
    host: str
    port: int
    home: Path

    def url(self, path: str = "") -> str:
        return f"ftp://{self.host}:{self.port}/{path.lstrip('/')}"


@pytest.fixture(scope="session")
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtpServer]:
    try:
        with warnings.catch_warnings():
            # On Python 3.11 pyftpdlib imports the standard library's asyncore, deprecated there.
            warnings.simplefilter("ignore", DeprecationWarning)
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler
            from pyftpdlib.servers import FTPServer
    except ImportError:
        pytest.fail("pyftpdlib is missing: install the dev extra (pip install -e '.[dev]')")
    home = tmp_path_factory.mktemp("ftp-home")
    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASSWORD, str(home), perm="elradfmwMT")
    # A refused login answers at once (pyftpdlib waits 3 s by default).
    settings = {"authorizer": authorizer, "banner": "test ftp", "auth_failed_timeout": 0.01}
    handler = type("Handler", (FTPHandler,), settings)
    server = FTPServer(("127.0.0.1", 0), handler)
    host, port = server.address[:2]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=serve, name="ftp-server", daemon=True)
    thread.start()
    try:
        yield FtpServer(host, port, home)
    finally:
        stop.set()
        thread.join(timeout=10)


def vault(s3_endpoint: str | None = None) -> dict[str, str]:
    """The credentials the tests use, flattened as the vault gives them (`NAME.field`)."""
    secrets = {"ftp-test.username": FTP_USER, "ftp-test.password": FTP_PASSWORD}
    if s3_endpoint:
        secrets |= {
            "s3-test.access_key_id": S3_KEY_ID,
            "s3-test.secret_access_key": S3_SECRET,
            "s3-test.endpoint_url": s3_endpoint,
            "s3-test.region": "us-east-1",
        }
    return secrets


@dataclass
class SftpServer:
    host: str
    port: int
    home: Path
    known_hosts: str
    """The server's key as a known_hosts line, what the credential's `known_hosts` field holds."""

    def url(self, path: str = "") -> str:
        return f"sftp://{self.host}:{self.port}/{path.lstrip('/')}"


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    """An asyncssh SSH server with SFTP, password login, rooted in a temp folder, in its own thread."""
    import asyncio

    try:
        with warnings.catch_warnings():
            # asyncssh still names DSA, which cryptography deprecates, at import.
            warnings.simplefilter("ignore")
            import asyncssh
            import sshfs  # noqa: F401
    except ImportError:
        pytest.fail("sshfs/asyncssh are missing: install the dev extra (pip install -e '.[dev]')")
    home = tmp_path_factory.mktemp("sftp-home")
    host_key = asyncssh.generate_private_key("ssh-ed25519")

    connections: list[Any] = []

    class Server(asyncssh.SSHServer):
        def connection_made(self, conn: Any) -> None:
            connections.append(conn)

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return username == SFTP_USER and password == SFTP_PASSWORD

    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}
    ready = threading.Event()

    async def start() -> None:
        server = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            server_factory=Server,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(home).encode()),
            allow_scp=False,
        )
        started["server"] = server
        started["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="sftp-server", daemon=True)
    thread.start()
    assert ready.wait(10), "the SFTP server did not start"
    port = started["port"]
    public = host_key.export_public_key().decode().strip()
    try:
        yield SftpServer("127.0.0.1", port, home, f"[127.0.0.1]:{port} {public}\n")
    finally:

        async def stop() -> None:
            started["server"].close()
            await started["server"].wait_closed()
            # Connections a client dropped half-way (a refused host key) are still open here.
            for conn in connections:
                conn.close()
                await conn.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
