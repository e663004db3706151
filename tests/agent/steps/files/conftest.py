"""Real storage servers on loopback for the `files.*` tests, one of each per session.

- `s3_server`: moto's S3 server (`ThreadedMotoServer`) on 127.0.0.1; yields its endpoint URL.
- `ftp_server`: a pyftpdlib FTP server in a thread, one user, home in a temp folder.
- `env`: a `StepEnvironment` whose vault holds credentials for both, closed after the test.
"""

from __future__ import annotations

import socket
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.steps import StepEnvironment

S3_KEY_ID = "AKIAFILESTESTKEY0001"
S3_SECRET = "s3-secret-Zq8vLw2Rk5Tn"
FTP_USER = "robot"
FTP_PASSWORD = "ftp-pass-Hx7Jm3Qd9Wc"
SECRETS_IN_TESTS = (S3_SECRET, FTP_PASSWORD)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        pytest.fail("moto[server] is missing: install the dev extra (pip install -e '.[dev]')")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


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


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(secrets=vault(), artifacts_dir=tmp_path / "artifacts")
    try:
        yield environment
    finally:
        await environment.aclose()
