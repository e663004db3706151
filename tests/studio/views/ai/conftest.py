"""The AI dialogs against a real orchestrator whose model is the local Messages-API stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.settings import Settings
from tests.fakes.anthropic_server import FakeAnthropic
from tests.studio.views.versions.conftest import (
    app,
    database_url,
    fast_hashing,
    live,
    published,
    screenshots,
    sqlite_template,
    tenant,
)
from tests.studio.views.versions.conftest import settings as plain_settings

__all__ = [
    "app",
    "database_url",
    "fast_hashing",
    "live",
    "plain_settings",
    "published",
    "screenshots",
    "sqlite_template",
    "tenant",
]

KEY = "sk-ant-studio-key-0f1e2d3c4b5a"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(keys={KEY}) as server:
        yield server


@pytest.fixture
def settings(plain_settings: Settings, fake: FakeAnthropic) -> Settings:
    fake.reset()
    return plain_settings.model_copy(update={"ai_base_url": fake.url, "ai_max_retries": 0})
