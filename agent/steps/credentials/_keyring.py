"""The OS keyring of the agent's user, and the one boundary for keyring's exceptions.

keyring.errors.NoKeyringError, a fail/null backend -> StepError kind `dependency`
keyring.errors.KeyringLocked                       -> StepError kind `keyring`, not retryable
keyring.errors.KeyringError (others)               -> StepError kind `keyring`, not retryable
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.errors import MissingDependency, StepError


def _is_plaintext(backend: object) -> bool:
    kind = type(backend)
    return "plaintext" in f"{kind.__module__}.{kind.__qualname__}".lower()


@contextmanager
def map_keyring_errors(service: str) -> Iterator[None]:
    """Translate keyring's errors raised inside the block (the service is named, never a value)."""
    from keyring import errors

    try:
        yield
    except errors.NoKeyringError:
        raise StepError(
            "this agent has no OS keyring (no Secret Service, Keychain or Windows Credential Manager)",
            kind="dependency",
            retryable=False,
        ) from None
    except errors.KeyringLocked:
        raise StepError(f"the OS keyring is locked (service '{service}')", kind="keyring", retryable=False) from None
    except errors.KeyringError as exc:
        raise StepError(
            f"the OS keyring failed for service '{service}': {type(exc).__name__}", kind="keyring", retryable=False
        ) from None


def usable_keyring(*, writing: bool) -> Any:
    """The active backend; a missing one is refused, and a plaintext one for writing."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except ImportError:
        raise MissingDependency("keyring", extra="agent") from None
    backend = keyring.get_keyring()
    chain = list(backend.backends) if isinstance(backend, chainer.ChainerBackend) else [backend]
    usable = [b for b in chain if not isinstance(b, fail.Keyring | null.Keyring)]
    if not usable:
        raise StepError(
            "this agent has no OS keyring (no Secret Service, Keychain or Windows Credential Manager)",
            kind="dependency",
            retryable=False,
        )
    if writing and any(_is_plaintext(b) for b in chain):
        raise StepError(
            f"refusing to store a secret in a plaintext keyring ({type(backend).__name__})",
            kind="keyring",
            retryable=False,
        )
    return backend
