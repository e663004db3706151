"""The typed API client against a real orchestrator: the test app served by uvicorn on
127.0.0.1 (`live`), with an organisation and its owner (`owner`) and a client signed in as them
(`api`). The client is synchronous (httpx), and the server runs in the test's own event loop, so
tests call it from a worker thread: `await call(api.workflows.list)`."""

from __future__ import annotations

import httpx
import pytest

from shared.client import ApiClient
from tests.live_api import call, owner
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import Member, app, settings, sqlite_template, tenant

__all__ = ["app", "call", "live", "owner", "settings", "sqlite_template", "tenant"]  # fixtures used here


@pytest.fixture
def database_url() -> None:
    """SQLite only: these tests are about the client; the API behind it is tested on both databases."""
    return None


@pytest.fixture
def api(live: httpx.AsyncClient, owner: Member) -> ApiClient:
    """A client of the live server signed in as `owner` (by its refresh token)."""
    return ApiClient(str(live.base_url), refresh_token=owner.refresh_token)
