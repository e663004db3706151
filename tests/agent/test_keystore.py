"""The agent's identity on disk and its key in the OS keyring or a 0600 file."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from agent.keystore import (
    KEYRING_SERVICE,
    AgentIdentity,
    KeystoreError,
    agent_home,
    check_key_storage,
    describe_key_store,
    load_identity,
    read_identity,
    replace_key,
    save_identity,
)
from tests.agent.keyrings import MemoryKeyring

KEY = "ak_live_0123456789abcdef0123456789abcdef"
IDENTITY = AgentIdentity(
    url="https://rpa.example.com", agent_id="a-1", org_id="o-1", name="bot-1", labels=["finance", "linux"]
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that would leave new files world-readable, to prove the modes do not depend on it."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's plaintext backend: it must be refused."""


@pytest.fixture
def keyring_backend(request: pytest.FixtureRequest) -> Iterator[object]:
    previous = keyring.get_keyring()
    backend = request.param()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


# -- agent home ----------------------------------------------------------------------------------


def test_agent_home_is_the_env_override_or_the_user_data_folder(tmp_path: Path) -> None:
    assert agent_home({"RPA_AGENT_HOME": str(tmp_path / "x")}) == tmp_path / "x"
    assert agent_home({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "rpa-agent"
    assert agent_home({}) == Path.home() / ".local" / "share" / "rpa-agent"


# -- keyring -------------------------------------------------------------------------------------


def test_keyring_holds_the_key_and_agent_json_only_the_identity(
    memory_keyring: MemoryKeyring, agent_home: Path, loose_umask: None
) -> None:
    written = save_identity(IDENTITY, KEY)

    assert written == agent_home / "agent.json"
    assert memory_keyring.passwords == {(KEYRING_SERVICE, "a-1"): KEY}
    assert KEY not in written.read_text()
    assert json.loads(written.read_text())["key_store"] == "keyring"
    assert mode(agent_home) == 0o700
    assert mode(written) == 0o600
    assert load_identity() == (IDENTITY, KEY)
    assert read_identity() == IDENTITY
    assert describe_key_store() == "the OS keyring"


def test_a_key_missing_from_the_keyring_is_a_clear_error(memory_keyring: MemoryKeyring, agent_home: Path) -> None:
    save_identity(IDENTITY, KEY)
    memory_keyring.passwords.clear()

    with pytest.raises(KeystoreError, match="holds no key for agent a-1"):
        load_identity()


@pytest.mark.parametrize("keyring_backend", [fail.Keyring, null.Keyring, PlaintextKeyring], indirect=True)
def test_no_usable_keyring_says_to_use_a_key_file_and_stores_nothing(keyring_backend: object, agent_home: Path) -> None:
    with pytest.raises(KeystoreError, match="--key-file PATH") as raised:
        save_identity(IDENTITY, KEY)
    with pytest.raises(KeystoreError, match="--key-file PATH"):
        check_key_storage(None)

    assert KEY not in str(raised.value)
    assert not (agent_home / "agent.json").exists()
    if isinstance(keyring_backend, MemoryKeyring):
        assert keyring_backend.passwords == {}  # refused before writing, not after


def test_a_keyring_that_fails_to_store_is_reported_without_the_key(
    memory_keyring: MemoryKeyring, agent_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked(f"cannot store {password}")

    monkeypatch.setattr(memory_keyring, "set_password", locked)
    with pytest.raises(KeystoreError, match="KeyringLocked") as raised:
        save_identity(IDENTITY, KEY)
    assert KEY not in str(raised.value)
    assert not (agent_home / "agent.json").exists()


# -- key file ------------------------------------------------------------------------------------


def test_key_file_is_written_0600_whatever_the_umask(agent_home: Path, tmp_path: Path, loose_umask: None) -> None:
    key_file = tmp_path / "secrets" / "agent.key"

    save_identity(IDENTITY, KEY, key_file=key_file)

    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    assert key_file.read_text().strip() == KEY
    document = json.loads((agent_home / "agent.json").read_text())
    assert KEY not in json.dumps(document)
    assert document["key_store"] == str(key_file)
    assert load_identity() == (IDENTITY, KEY)  # agent.json says where the key is
    assert describe_key_store() == str(key_file)
    assert [p.name for p in key_file.parent.iterdir()] == ["agent.key"]  # no temp file left behind


def test_enrolling_again_replaces_the_key_file_and_keeps_it_private(agent_home: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "agent.key"
    key_file.write_text("old-key\n")
    key_file.chmod(0o644)

    save_identity(IDENTITY, KEY, key_file=key_file)

    assert mode(key_file) == 0o600
    assert load_identity(key_file=key_file)[1] == KEY


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_open_to_group_or_others_is_refused(agent_home: Path, tmp_path: Path, loose: int) -> None:
    key_file = tmp_path / "agent.key"
    save_identity(IDENTITY, KEY, key_file=key_file)
    key_file.chmod(loose)

    with pytest.raises(KeystoreError, match=f"chmod 600 {key_file}") as raised:
        load_identity()
    assert KEY not in str(raised.value)


def test_a_missing_key_file_is_a_clear_error(agent_home: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "agent.key"
    save_identity(IDENTITY, KEY, key_file=key_file)
    key_file.unlink()

    with pytest.raises(KeystoreError, match="does not exist"):
        load_identity()


# -- not enrolled, damaged identity --------------------------------------------------------------


def test_not_enrolled_is_none_or_a_clear_error(agent_home: Path) -> None:
    assert read_identity() is None
    assert describe_key_store() == "nowhere"
    with pytest.raises(KeystoreError, match="rpa agent enroll"):
        load_identity()


def test_a_damaged_agent_json_is_reported(agent_home: Path) -> None:
    agent_home.mkdir()
    (agent_home / "agent.json").write_text('{"agent_id": "a-1"}')
    with pytest.raises(KeystoreError, match="incomplete"):
        read_identity()
    (agent_home / "agent.json").write_text("not json")
    with pytest.raises(KeystoreError, match="cannot read"):
        read_identity()


def test_an_empty_key_is_refused(agent_home: Path, tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="empty"):
        save_identity(IDENTITY, "", key_file=tmp_path / "k")


# -- a new key after a rotation ------------------------------------------------------------------

AGENT_ID = "7f1c2a9e-0b4d-4c55-9a7e-3d2f1e0c9b8a"
ROTATED = AgentIdentity(url="https://rpa.example.com", agent_id=AGENT_ID, org_id="o-1", name="bot-1")
NEW_KEY = f"rpa_ak_{AGENT_ID.replace('-', '')}_n3wS3cretN3wS3cretN3wS3cretN3wS3cret"


def test_a_new_key_replaces_the_old_one_where_it_is_kept(
    memory_keyring: MemoryKeyring, agent_home: Path, tmp_path: Path
) -> None:
    save_identity(ROTATED, "rpa_ak_old")
    assert replace_key(NEW_KEY + "\n") == "the OS keyring"
    assert load_identity() == (ROTATED, NEW_KEY)

    key_file = tmp_path / "keys" / "agent.key"
    assert replace_key(NEW_KEY, key_file=key_file) == str(key_file)  # from now on in a file
    assert mode(key_file) == 0o600
    assert json.loads((agent_home / "agent.json").read_text())["key_store"] == str(key_file)
    assert load_identity() == (ROTATED, NEW_KEY)
    newer = NEW_KEY[:-1] + "X"
    assert replace_key(newer) == str(key_file)  # stays where it is kept now
    assert key_file.read_text().strip() == newer


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("", "not an agent key"),
        ("n3wS3cret-but-no-prefix", "not an agent key"),
        (f"rpa_ak_{'0' * 32}_n3wS3cretN3wS3cret", "belongs to another agent, not to bot-1"),
    ],
)
def test_a_key_that_is_not_this_agents_is_refused_and_nothing_changes(
    agent_home: Path, tmp_path: Path, key: str, says: str
) -> None:
    key_file = tmp_path / "agent.key"
    save_identity(ROTATED, "rpa_ak_old", key_file=key_file)
    with pytest.raises(KeystoreError, match=says) as refused:
        replace_key(key)
    assert "n3wS3cret" not in str(refused.value)
    assert load_identity() == (ROTATED, "rpa_ak_old")


def test_a_new_key_needs_an_enrolled_agent(agent_home: Path) -> None:
    with pytest.raises(KeystoreError, match="rpa agent enroll URL TOKEN"):
        replace_key(NEW_KEY)
