"""The trigger tests run the app's trigger runner with a short tick, so a due time or a lease
change is acted on within tens of milliseconds."""

from __future__ import annotations

import pytest

from orchestrator.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"trigger_tick_s": 0.05, "trigger_lease_s": 2.0})
