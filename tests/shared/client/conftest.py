"""The typed API client against a real orchestrator: the test app served by uvicorn on
127.0.0.1 (`live`), with an organisation and its owner (`owner`) and a client signed in as them
(`api`). The client is synchronous (httpx), and the server runs in the test's own event loop, so
tests call it from a worker thread: `await call(api.workflows.list)`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from shared.client import ApiClient
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
    """SQLite only: these tests are about the client; the API behind it is tested on both databases."""
    return None


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a worker thread (the sync client must not block the server's loop)."""
    return await asyncio.to_thread(function, *args, **kwargs)


@pytest.fixture
async def owner(tenant: TenantFactory) -> Member:
    return await tenant()


@pytest.fixture
def api(live: httpx.AsyncClient, owner: Member) -> ApiClient:
    """A client of the live server signed in as `owner` (by its refresh token)."""
    return ApiClient(str(live.base_url), refresh_token=owner.refresh_token)
