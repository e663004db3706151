"""The webhook trigger a URL token names, kept for a moment instead of read on every call.

A call's token look-up was a session, a query and a row parsed into a `TriggerSpec` and its
`WebhookConfig`: about a tenth of the orchestrator's CPU per call under load (bench/README.md).
The `triggers` table is written all the time (each start counts `fire_count`, the runner renews
leases and writes statuses), so `Database.watch` on it would drop the cache on every batch; what
drops it instead is a change of what a call depends on:

- at once when this process commits a change of a trigger through the API's service
  (`_store.py`: create, change, pause, resume, rekey, delete call `config_changed`) or a write to
  the `workflows` table (a deleted workflow takes its triggers with it);
- after `ttl_s` (the `read_cache_s` setting, default 1 s; 0 turns the cache off) in every case,
  which bounds how long another process's pause, rekey or delete can leave a call accepted here.

Only a token that names an enabled webhook is kept: a wrong token is read every time.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.session import Database
from orchestrator.triggers._fire import TriggerSpec
from orchestrator.triggers._kinds import WebhookConfig

MAX_ENTRIES = 10_000

_changes = [0]
"""Committed trigger changes in this process (a list: the after-commit hook increments it)."""


def _bump(_session: Any) -> None:
    _changes[0] += 1


def config_changed(session: AsyncSession) -> None:
    """Note that `session` changes a trigger: once it commits, every process-local copy of a
    trigger is dropped (a rollback drops nothing)."""
    sync = session.sync_session
    if not event.contains(sync, "after_commit", _bump):
        event.listen(sync, "after_commit", _bump, once=True)


class HookCache:
    """Enabled webhook triggers by the SHA-256 of their token (see the module docstring)."""

    def __init__(self, db: Database, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._workflows = db.watch({"workflows"})
        self._values: dict[str, tuple[tuple[int, int], float, tuple[TriggerSpec, WebhookConfig]]] = {}
        self.hits = self.misses = 0

    def mark(self) -> tuple[int, int]:
        """The generation to pass to `put` for a value read after this call."""
        return (_changes[0], self._workflows.generation)

    def get(self, token_hash: str) -> tuple[TriggerSpec, WebhookConfig] | None:
        if self.ttl_s <= 0:
            return None
        entry = self._values.get(token_hash)
        if entry is not None and entry[0] == self.mark() and time.monotonic() - entry[1] < self.ttl_s:
            self.hits += 1
            return entry[2]
        self.misses += 1
        return None

    def drop(self, token_hash: str) -> None:
        """Forget the copy kept for `token_hash` (its trigger was found gone)."""
        self._values.pop(token_hash, None)

    def put(self, token_hash: str, generation: tuple[int, int], value: tuple[TriggerSpec, WebhookConfig]) -> None:
        """Keep `value`, read after `mark()` returned `generation` (not kept if a change was
        committed in between)."""
        if self.ttl_s <= 0 or generation != self.mark():
            return
        if len(self._values) >= MAX_ENTRIES:
            self._values.clear()
        self._values[token_hash] = (generation, time.monotonic(), value)
