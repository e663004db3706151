"""The studio's connections against a real orchestrator (uvicorn on 127.0.0.1 in the test's loop),
with an in-memory keyring (the real OS keyring is never touched).

- `owner`: an organisation and its owner; `url`: the live server's base URL.
- `memory_keyring`: the in-memory keyring, active for the test.
- `connections`: a `Connections` over a settings file and token folder in `tmp_path`.
- `call(fn, ...)`: runs blocking client code in a worker thread (the server shares the loop).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.model import Settings
from studio.remote import Connections, TokenStore
from tests.agent.keyrings import MemoryKeyring
from tests.live_api import call, memory_keyring, owner, url
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import app, settings, sqlite_template, tenant

__all__ = [  # fixtures used here
    "app",
    "call",
    "live",
    "memory_keyring",
    "owner",
    "settings",
    "sqlite_template",
    "tenant",
    "url",
]


@pytest.fixture
def database_url() -> None:
    """SQLite only: the studio speaks to the API; the database behind it is tested elsewhere."""
    return None


@pytest.fixture
def connections(tmp_path: Path, memory_keyring: MemoryKeyring) -> Connections:
    return Connections(Settings(tmp_path / "studio" / "settings.json"), TokenStore(tmp_path / "studio" / "tokens"))
