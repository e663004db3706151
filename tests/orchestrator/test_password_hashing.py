"""The password hasher at its production cost.

The suite hashes with test-sized argon2id parameters (`tests/conftest.py`); this module loads a
fresh copy of `orchestrator.security.passwords` to check the parameters a real server uses.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from argon2 import PasswordHasher

from orchestrator.security import passwords


@pytest.fixture(scope="module")
def production() -> ModuleType:
    assert passwords.__file__ is not None
    spec = importlib.util.spec_from_file_location("production_passwords", passwords.__file__)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_real_server_hashes_with_argon2id_at_the_rfc_9106_low_memory_cost(production: ModuleType) -> None:
    stored = production.hash_password("Correct-Horse-42-battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), stored
    assert production.verify_password(stored, "Correct-Horse-42-battery")
    assert not production.verify_password(stored, "Correct-Horse-42-batterY")
    assert not production.verify_password(None, "Correct-Horse-42-battery")
    assert not production.needs_rehash(stored)


def test_a_hash_made_at_a_lower_cost_is_made_again_at_the_real_one(production: ModuleType) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("Correct-Horse-42-battery")
    assert production.verify_password(cheap, "Correct-Horse-42-battery")
    assert production.needs_rehash(cheap)


def test_the_suite_hashes_at_a_test_sized_cost() -> None:
    assert passwords.hash_password("x").startswith("$argon2id$v=19$m=1024,t=1,p=1$")
