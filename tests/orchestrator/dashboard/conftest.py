"""The dashboard's tests hash a few members' passwords: test-sized argon2 keeps them fast."""

from __future__ import annotations

import pytest

from tests.orchestrator._identity_helpers import fast_hashing

__all__ = ["fast_hashing"]


@pytest.fixture(autouse=True)
def _fast_hashing(fast_hashing: None) -> None:
    """Every test here: members are made, never the subject."""
