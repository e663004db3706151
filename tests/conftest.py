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


@pytest.fixture(scope="session", autouse=True)
def _test_sized_password_hashing() -> Iterator[None]:
    """argon2id with test-sized parameters for every password the tests' in-process servers hash.

    At the production cost a hash or a verification takes 0.1-0.5 s here, and nearly every
    orchestrator test makes an organisation with its owner (one hash) and many log in: some 2,000
    hashes in a run. The rules around passwords do not depend on the cost;
    `tests/orchestrator/test_password_hashing.py` checks the production parameters themselves.
    Processes the tests start (`rpa orchestrator`, `rpa admin create`) keep the real cost.
    """
    from argon2 import PasswordHasher

    from orchestrator.security import passwords

    saved = passwords._hasher, passwords._DUMMY_HASH
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    passwords._hasher, passwords._DUMMY_HASH = hasher, hasher.hash("not a real password")
    yield
    passwords._hasher, passwords._DUMMY_HASH = saved


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
