"""The studio's side of an orchestrator, without Qt: the connections the user signed in to (their
refresh tokens in the OS keyring), and flow documents that live on an orchestrator (open a draft
or a read-only version, save with the revision, publish).

Everything here makes blocking HTTP calls through `shared.client`: views call it off the Qt event
loop. It imports no Qt (an import-linter contract holds `studio.model`; `tests/studio/remote/`
run it without Qt).
"""

from studio.remote._connections import ACTIVE_KEY, SETTINGS_KEY, Connection, Connections, normalise_url
from studio.remote._tokens import SERVICE, TokenStore
from studio.remote._workflows import RemoteSource, open_draft, open_version, publish, save, source_of

__all__ = [
    "ACTIVE_KEY",
    "SERVICE",
    "SETTINGS_KEY",
    "Connection",
    "Connections",
    "RemoteSource",
    "TokenStore",
    "normalise_url",
    "open_draft",
    "open_version",
    "publish",
    "save",
    "source_of",
]
