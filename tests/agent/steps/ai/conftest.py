"""Fixtures of the `ai.*` tests: one Messages-API stand-in per module, a step environment on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.steps import StepEnvironment
from tests.fakes.anthropic_server import FakeAnthropic

KEY = "sk-ant-test-9f8e7d6c5b4a"
"""The API key the stand-in accepts; tests grep for it in logs, events and errors."""


@pytest.fixture(scope="module")
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(keys={KEY}) as running:
        yield running


@pytest.fixture
def fake(api: FakeAnthropic) -> FakeAnthropic:
    api.reset()
    api.handler = None
    return api


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(secrets={"anthropic": KEY}, artifacts_dir=tmp_path)
    try:
        yield environment
    finally:
        await environment.aclose()


def base(fake: FakeAnthropic, **params: object) -> dict[str, object]:
    """Params every test gives: the credential, the stand-in's URL, no SDK retries."""
    return {"credential": "anthropic", "base_url": fake.url, "max_retries": 0, "timeout": 10, **params}
