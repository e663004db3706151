"""Fixtures of the agent tests.

- `memory_keyring`: an in-memory keyring backend, active for the test (the real OS keyring is
  never touched).
- `agent_home`: `RPA_AGENT_HOME` pointed at a fresh folder (not yet created).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests.agent.keyrings import MemoryKeyring


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def agent_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "agent-home"
    monkeypatch.setenv("RPA_AGENT_HOME", str(home))
    return home
