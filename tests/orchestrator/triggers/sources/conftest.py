"""Servers for the trigger source tests. The mail servers (pymap, Dovecot, aiosmtpd) are the
e-mail step tests' own session fixtures, imported so both suites start them the same way."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.steps.email.conftest import dovecot, pymap, pymap_starttls, smtp, tls

__all__ = ["dovecot", "pymap", "pymap_starttls", "smtp", "tls"]
from tests.agent.steps.files.conftest import ftp_server, s3_server
from tests.postgres import PostgresServer

__all__ += ["ftp_server", "s3_server"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The suite's throwaway PostgreSQL (Debian's binaries), one per session."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-src-pg-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
