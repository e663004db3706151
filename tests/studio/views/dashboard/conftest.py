"""A real orchestrator (in-process uvicorn on 127.0.0.1, SQLite) with seeded executions, and an
`ApiClient` signed in to it, for the dashboard, reports and admin views."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.client import ApiClient
from studio.views.dashboard import ClientApi
from tests.orchestrator._identity_helpers import fast_hashing
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import TenantFactory, app, settings, sqlite_template, tenant
from tests.orchestrator.dashboard._rows import seed

__all__ = ["app", "fast_hashing", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here


@pytest.fixture(autouse=True)
def _fast_hashing(fast_hashing: None) -> None:
    """Members are made for every test here (test-sized argon2: passwords are not the subject)."""


@pytest.fixture
def database_url() -> None:
    """SQLite only: the views speak to the API; the route's SQL is tested on both databases."""
    return None


def api_for(live: httpx.AsyncClient, headers: dict[str, str]) -> ClientApi:
    """The views' API adapter over an `ApiClient` holding the member's access token."""
    token = headers["Authorization"].removeprefix("Bearer ")
    return ClientApi(ApiClient(str(live.base_url), access_token=token))


@pytest.fixture
async def seeded(app: FastAPI, live: httpx.AsyncClient, tenant: TenantFactory) -> dict[str, Any]:
    figures = await seed(app, live, await tenant(), await tenant())
    return figures | {"api": api_for(live, figures["owner"].headers)}


# `docs/images/refresh_studio.py` points STUDIO_SCREENSHOTS at docs/images; the suite writes aside.
SHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS", Path(__file__).resolve().parents[2] / "screenshots"))


def save_shot(widget: Any, name: str) -> bool:
    """Save `widget`'s picture as `name` in the screenshots folder (made when missing)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return bool(widget.grab().save(str(SHOTS / name)))
