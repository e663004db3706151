"""Where the studio keeps the refresh token of each orchestrator it is signed in to.

In the OS keyring (service `rpa-studio`, user `<url>|<e-mail>`) when a keyring backend works.
When none does (a desktop session without D-Bus, a bare server), in a file of the studio's
config folder readable by its owner only (mode 0600 in a 0700 folder), and the log says so once:
a refresh token is as good as a password while it lives. The file's name is a hash of the key,
never the token, and nothing here logs a token.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

SERVICE = "rpa-studio"
logger = logging.getLogger("studio.remote")


class TokenStore:
    """Refresh tokens by connection key, in the OS keyring or (failing that) 0600 files in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._warned = False

    def _keyring(self) -> Any | None:
        """The keyring module when its backend works, else None."""
        try:
            import keyring
            from keyring.backends import fail
        except ImportError:
            self._fallback("the keyring package is not installed")
            return None
        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
            self._fallback(f"no OS keyring backend works ({type(backend).__name__})")
            return None
        return keyring

    def _fallback(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("%s: keeping orchestrator sign-in tokens in %s (mode 0600)", why, self.folder)
        return None

    def _file(self, key: str) -> Path:
        return self.folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".token")

    @property
    def in_keyring(self) -> bool:
        """Whether tokens go to the OS keyring (False: to 0600 files)."""
        return self._keyring() is not None

    def get(self, key: str) -> str | None:
        """The token kept for `key`, or None."""
        keyring = self._keyring()
        if keyring is not None:
            try:
                token = keyring.get_password(SERVICE, key)
                return str(token) if token else None
            except keyring.errors.KeyringError as err:
                self._fallback(f"the OS keyring failed ({type(err).__name__})")
        try:
            return self._file(key).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def set(self, key: str, token: str) -> None:
        """Keep `token` for `key` (replacing the one before: refresh tokens rotate)."""
        keyring = self._keyring()
        if keyring is not None:
            try:
                keyring.set_password(SERVICE, key, token)
                return
            except keyring.errors.KeyringError as err:
                self._fallback(f"the OS keyring failed ({type(err).__name__})")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._file(key), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(token)

    def delete(self, key: str) -> None:
        """Forget the token of `key` (wherever it is)."""
        keyring = self._keyring()
        if keyring is not None:
            try:
                keyring.delete_password(SERVICE, key)
            except keyring.errors.KeyringError:  # PasswordDeleteError: there was none
                pass
        self._file(key).unlink(missing_ok=True)
