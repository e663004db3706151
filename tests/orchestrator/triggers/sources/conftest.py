"""Servers for the trigger source tests. The mail servers (pymap, Dovecot, aiosmtpd), moto's S3
and the FTP server are the session fixtures of the root conftest, shared with the step tests
(two of each in one session interfered: pyftpdlib's I/O loop is one per process, and a second
Dovecot's logins failed)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The suite's throwaway PostgreSQL (Debian's binaries), one per session."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-src-pg-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
