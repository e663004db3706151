"""The `files.*` tests' step environment; their servers are in `servers.py` (session fixtures
registered by the root conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.steps import StepEnvironment
from tests.agent.steps.files.servers import vault


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(secrets=vault(), artifacts_dir=tmp_path / "artifacts")
    try:
        yield environment
    finally:
        await environment.aclose()
