"""The studio's connections against a real orchestrator (uvicorn on 127.0.0.1 in the test's loop),
with an in-memory keyring (the real OS keyring is never touched).

- `owner`: an organisation and its owner; `url`: the live server's base URL.
- `keyring_memory`: the in-memory keyring, active for the test.
- `connections`: a `Connections` over a settings file and token folder in `tmp_path`.
- `call(fn, ...)`: runs blocking client code in a worker thread (the server shares the loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import keyring
import pytest

from studio.model import Settings
from studio.remote import Connections, TokenStore
from tests.agent.keyrings import MemoryKeyring
from tests.orchestrator._identity_helpers import fast_hashing
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import Member, TenantFactory, app, settings, sqlite_template, tenant

__all__ = ["app", "fast_hashing", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _fast_hashing(fast_hashing: None) -> None:
    """argon2 at test cost: every test signs in (the production cost is ~0.1-0.4 s per hash here)."""


@pytest.fixture
def database_url() -> None:
    """SQLite only: the studio speaks to the API; the database behind it is tested elsewhere."""
    return None


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a worker thread (blocking HTTP must not stall the server's loop)."""
    return await asyncio.to_thread(function, *args, **kwargs)


@pytest.fixture
async def owner(tenant: TenantFactory) -> Member:
    return await tenant()


@pytest.fixture
def url(live: httpx.AsyncClient) -> str:
    return str(live.base_url).rstrip("/")


@pytest.fixture
def keyring_memory() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def connections(tmp_path: Path, keyring_memory: MemoryKeyring) -> Connections:
    return Connections(Settings(tmp_path / "studio" / "settings.json"), TokenStore(tmp_path / "studio" / "tokens"))
