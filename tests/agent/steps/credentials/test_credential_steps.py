"""`vault.get` and `keyring.*`: values handed out are masked; missing or unsafe keyrings are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from agent.steps.credentials import keyring_get, keyring_set, vault_get
from shared.errors import StepError
from shared.expressions import SecretMasker, flatten_credentials
from shared.steps import StepEnvironment
from tests.agent.keyrings import MemoryKeyring

PASSWORD = "Vault-Secret-pw-81"


@pytest.fixture
def masker() -> SecretMasker:
    return SecretMasker()


@pytest.fixture
def env(tmp_path: Path, masker: SecretMasker) -> StepEnvironment:
    secrets = flatten_credentials({"erp": {"username": "ann", "password": PASSWORD}})
    return StepEnvironment(secrets=secrets, masker=masker, artifacts_dir=tmp_path)


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's plaintext file keyring, which keeps secrets readable on disk."""


@pytest.fixture
def use_backend() -> Iterator[object]:
    previous = keyring.get_keyring()
    yield lambda backend: keyring.set_keyring(backend)
    keyring.set_keyring(previous)


async def test_vault_get_returns_the_value_or_a_field_and_masks_it(env: StepEnvironment, masker: SecretMasker) -> None:
    assert await env.run(vault_get, {"name": "erp"}) == PASSWORD
    assert masker.mask(f"logged {PASSWORD}") == "logged ***"
    assert await env.run(vault_get, {"name": "erp", "field": "username"}) == "ann"
    with pytest.raises(StepError) as missing:
        await env.run(vault_get, {"name": "crm"})
    assert missing.value.kind == "credential"
    assert missing.value.retryable is False


async def test_vault_get_refuses_when_nothing_can_mask(tmp_path: Path) -> None:
    unmasked = StepEnvironment(secrets={"erp": PASSWORD}, artifacts_dir=tmp_path)
    with pytest.raises(StepError, match="cannot mask"):
        await unmasked.run(vault_get, {"name": "erp"})


async def test_keyring_set_then_get_round_trip_masked(
    env: StepEnvironment, masker: SecretMasker, memory_keyring: MemoryKeyring
) -> None:
    stored = await env.run(keyring_set, {"service": "erp", "username": "ann", "value": "kr-Secret-12"})
    assert stored == {"service": "erp", "username": "ann", "stored": True}
    assert memory_keyring.passwords[("erp", "ann")] == "kr-Secret-12"
    fresh = SecretMasker()
    reader = StepEnvironment(masker=fresh, artifacts_dir=env.artifacts_dir)
    assert await reader.run(keyring_get, {"service": "erp", "username": "ann"}) == "kr-Secret-12"
    assert fresh.mask("kr-Secret-12") == "***"


async def test_keyring_get_of_a_missing_entry(env: StepEnvironment, memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(StepError, match="no secret for service 'erp', user 'bob'"):
        await env.run(keyring_get, {"service": "erp", "username": "bob"})
    assert await env.run(keyring_get, {"service": "erp", "username": "bob", "required": False}) is None


async def test_no_keyring_and_plaintext_keyrings_are_refused(env: StepEnvironment, use_backend: object) -> None:
    use_backend(fail.Keyring())  # type: ignore[operator]
    with pytest.raises(StepError) as none:
        await env.run(keyring_get, {"service": "erp", "username": "ann"})
    assert none.value.kind == "dependency"
    assert "no OS keyring" in none.value.message

    plain = PlaintextKeyring()
    use_backend(plain)  # type: ignore[operator]
    with pytest.raises(StepError, match="plaintext"):
        await env.run(keyring_set, {"service": "erp", "username": "ann", "value": "kr-Secret-12"})
    assert plain.passwords == {}
