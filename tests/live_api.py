"""Fixtures and helpers for tests of the API's clients (the typed client, the studio, the tray)
against a real orchestrator served by uvicorn on 127.0.0.1 in the test's own event loop.

A conftest imports what it uses (`from tests.live_api import owner, url, ...`); these fixtures
are function-scoped and hold no process, so each import is independent.

- `owner`: an organisation and its owner; `url`: the live server's base URL.
- `memory_keyring`: an in-memory keyring, active for the test (the OS keyring is never touched).
- `sqlite_only`: a `database_url` override for client tests (the API itself is tested on both).
- `call(fn, ...)`: blocking client code in a worker thread (the server shares the loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import keyring
import pytest

from tests.agent.keyrings import MemoryKeyring
from tests.orchestrator.conftest import Member, TenantFactory

T = TypeVar("T")


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
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
