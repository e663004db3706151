"""Rows read on nearly every request, kept for a moment instead of read each time.

Every authenticated request needs its session's row joined with the user, the organisation, the
membership and the role (`api/deps.py`), and every start the version it pins
(`services/executions.py`). Read from the database each time, that is a session, a connection and
a query: most of the CPU of a request that does little else (`GET /auth/me`; bench/README.md).
Those rows change rarely (log out, revoke,
disable, a role's permissions; a publish), so they are kept here, and dropped:

- at once when this process commits a write to any of their tables (`Database.watch`): a logout,
  a revoked session, a changed role or a new version counts on the very next request;
- after `read_cache_s` (default 1 s; 0 turns the caches off) in every case, which bounds what
  another process's write (`rpa admin …` on the same database, another replica) can leave stale.

Only stored values are kept; what depends on the moment or the caller (expiry, the IP allowlist,
the password's age) is still checked on every request.

`load` reads a missing value once for all the callers that miss it at the same time: when an
entry expires under load, the requests that arrive while it is being read wait for that read
instead of each reading it again (without it, a share of the starts under load read their
session again, each read letting more requests in behind it; bench/README.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from orchestrator.db.session import Database, WriteWatch

AUTH_TABLES = {"sessions", "users", "organisations", "memberships", "roles"}
"""What `api/deps.py` reads to authenticate a request."""
PIN_TABLES = {"workflows", "workflow_versions"}
"""What `workflows.pin_version` reads."""
MAX_ENTRIES = 10_000


class ReadCache:
    """Values read from `tables`, by key, believed for `ttl_s` or until this process commits a
    write to one of those tables."""

    def __init__(self, db: Database, tables: set[str], ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._watch: WriteWatch = db.watch(tables)
        self._values: dict[Hashable, tuple[int, float, Any]] = {}
        self._reading: dict[Hashable, asyncio.Future[tuple[int, Any]]] = {}
        self.hits = self.misses = self.reads = 0

    def mark(self) -> int:
        """The generation to pass to `put` for a value read after this call."""
        return self._watch.generation

    def get(self, key: Hashable) -> Any | None:
        if self.ttl_s <= 0:
            return None
        entry = self._values.get(key)
        if entry is not None and entry[0] == self._watch.generation and time.monotonic() - entry[1] < self.ttl_s:
            self.hits += 1
            return entry[2]
        self.misses += 1
        return None

    def put(self, key: Hashable, generation: int, value: Any) -> None:
        """Keep `value`, read after `mark()` returned `generation`; a write committed in between
        makes it stale at once, so it is not kept."""
        if self.ttl_s <= 0 or generation != self._watch.generation:
            return
        if len(self._values) >= MAX_ENTRIES:
            self._values.clear()
        self._values[key] = (generation, time.monotonic(), value)

    async def load(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
        """The value of `key`: the kept one, or what `read()` returns (kept unless it is None).

        A caller that misses while another caller's read of the same key is under way waits for
        that read and takes its value, unless this process committed a write to the watched tables
        since that read began (then it reads for itself). If that read fails, each waiter reads
        for itself, so an error reaches only the caller whose read raised it."""
        if self.ttl_s <= 0:
            return await read()
        value = self.get(key)
        if value is not None:
            return value
        pending = self._reading.get(key)
        if pending is not None:
            generation, value = await asyncio.shield(pending)
            if generation == self._watch.generation:
                return value
            return await self.load(key, read)
        generation = self.mark()
        reading: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()
        self._reading[key] = reading
        self.reads += 1
        read_ok = False
        try:
            value = await read()
            read_ok = True
        finally:
            del self._reading[key]
            # A failed read hands its waiters a generation that cannot match: each reads again.
            reading.set_result((generation, value) if read_ok else (-1, None))
        if value is not None:
            self.put(key, generation, value)
        return value
