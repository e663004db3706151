"""The login session store: where `rpa login` keeps the orchestrator's URL and refresh token.

The file is `$XDG_CONFIG_HOME/rpa/session.json` (default `~/.config/rpa/session.json`), written
with mode 0600 inside a 0700 folder, because a refresh token is as good as a password for as long
as it lives. A password is never stored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from shared.client._exceptions import ApiError


@dataclass(frozen=True)
class Session:
    """A kept login: the orchestrator's URL and the refresh token that renews its access."""

    url: str
    refresh_token: str

    def __repr__(self) -> str:  # the token is a credential: keep it out of logs and tracebacks
        return f"Session(url={self.url!r}, refresh_token='***')"


def session_file() -> Path:
    """The path of the session file (`$XDG_CONFIG_HOME/rpa/session.json`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rpa" / "session.json"


def load_session(path: Path | None = None) -> Session:
    """The session kept in `path` (default: `session_file()`).

    Raises:
        ApiError: code `no_session` when there is no readable session there.
    """
    path = path or session_file()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return Session(str(saved["url"]), str(saved["refresh_token"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise ApiError(
            0,
            "no_session",
            f"not logged in (no session in {path}); run `rpa login URL --email …` or set RPA_URL and RPA_TOKEN",
        ) from None


def save_session(session: Session, path: Path | None = None) -> Path:
    """Keep `session` in `path` (default: `session_file()`), readable by its owner only; returns the path."""
    path = path or session_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        json.dump({"url": session.url, "refresh_token": session.refresh_token}, handle)
    return path
