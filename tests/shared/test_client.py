"""`shared.client`: the API client's public names, its session store, and its independence from
the command line (the studio and the tray import it without typer or rich)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

import shared.client
from shared.client import ApiClient, ApiError, Session, load_session, save_session, session_file

ROOT = Path(__file__).resolve().parents[2]


def test_public_names_are_pinned() -> None:
    assert sorted(shared.client.__all__) == [
        "API", "ApiClient", "ApiError", "Session", "load_session", "save_session", "session_file",
    ]
    for name in shared.client.__all__:
        assert hasattr(shared.client, name), f"shared.client.{name} is exported but missing"


def test_the_client_imports_and_runs_without_the_command_line_libraries() -> None:
    blocker = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"typer", "rich", "click", "cli", "PySide6"}:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
from shared.client import ApiClient, ApiError
try:
    ApiClient("http://127.0.0.1:9").request("GET", "/workflows")
except ApiError as error:
    print(error.code)
"""
    done = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unreachable"


def test_a_session_is_kept_for_its_owner_only_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = save_session(Session("http://127.0.0.1:8400", "rt-secret"))
    assert path == session_file() == tmp_path / "config" / "rpa" / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_session() == Session("http://127.0.0.1:8400", "rt-secret")
    client = ApiClient.from_session()
    assert (client.url, client.refresh_token, client.access_token) == ("http://127.0.0.1:8400", "rt-secret", "")


def test_a_session_file_loosened_by_hand_is_tightened_on_the_next_save(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    path.write_text("{}")
    path.chmod(0o644)
    save_session(Session("http://x", "rt"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_refresh_token_stays_out_of_repr() -> None:
    assert "rt-secret" not in repr(Session("http://x", "rt-secret"))


@pytest.mark.parametrize("content", [None, "not json", '{"url": "http://x"}', "[]"])
def test_no_usable_session_is_a_clear_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "session.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ApiError) as caught:
        load_session(path)
    assert caught.value.code == "no_session"
    assert str(path) in caught.value.message
    assert "rpa login" in caught.value.message
