"""Fixtures every test folder shares."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

# Session servers shared by every folder that needs them, registered here only: a fixture
# imported into two conftests is two fixtures, and two of these servers in one session interfere.
from tests.agent.steps.email.servers import dovecot, pymap, pymap_starttls, smtp, tls
from tests.agent.steps.files.servers import ftp_server, s3_server, sftp_server

__all__ = ["dovecot", "ftp_server", "pymap", "pymap_starttls", "s3_server", "sftp_server", "smtp", "tls"]


@pytest.fixture(autouse=True)
def _masker_as_in_a_fresh_process() -> Iterator[None]:
    """Each test sees the orchestrator's process-wide secret masker as it found it.

    The masker remembers every value the vault handles in a process; the suite runs thousands of
    tests in one process, and without this every credential a test creates would stay in every
    later test's masking pattern (the vault tests ran 20x slower late in the run than alone).
    """
    logging_module = sys.modules.get("orchestrator.logging")
    if logging_module is None:
        yield
        return
    masker = logging_module.MASKER
    with masker._lock:
        saved = (set(masker._secrets), set(masker._prefixes))
    yield
    with masker._lock:
        if (masker._secrets, masker._prefixes) != saved:
            masker._secrets, masker._prefixes = saved
            masker._stale = True
            masker._matcher = None
            masker._pattern = None
