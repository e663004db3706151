"""The background loop that applies artifact retention (services/artifact_retention.py).

Every replica runs one; passes on several replicas share the work through row locks
(`FOR UPDATE SKIP LOCKED`), so each file is deleted once. A pass that fails is logged and the
next one tries again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from orchestrator.background import BackgroundService
from orchestrator.db.session import Database
from orchestrator.services.artifact_retention import purge_once
from orchestrator.services.artifact_store import ArtifactStore
from orchestrator.services.session_checkpoints import SessionCheckpoints

log = logging.getLogger("rpa.orchestrator")


class ArtifactPurger(BackgroundService):
    """One pass per `interval_s`, in batches of `batch` files, each batch its own transaction."""

    name = "artifact-purger"

    def __init__(
        self, db: Database, store: ArtifactStore, *, default_days: int | None, interval_s: float, batch: int = 200
    ) -> None:
        self.db = db
        self.store = store
        self.default_days = default_days
        self.interval_s = interval_s
        self.batch = batch

    async def _run(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception:
                log.exception("artifact purge pass failed")
            await asyncio.sleep(self.interval_s)

    async def purge(self) -> list[uuid.UUID]:
        """Purge until no expired artifact is left unlocked; the ids this replica deleted."""
        purged: list[uuid.UUID] = []
        while True:
            async with self.db.transaction() as session:
                ids = await purge_once(session, self.store, default_days=self.default_days, batch=self.batch)
            purged += ids
            if len(ids) < self.batch:
                if self.session_checkpoints is not None:
                    await self.session_checkpoints.purge()
                removed = await asyncio.to_thread(self.store.purge_partials, self.partial_age_s)
                if removed:
                    log.info("artifact purge removed %d stale partial uploads", removed)
                return purged

    session_checkpoints: SessionCheckpoints | None = None
    """Also removes the session checkpoints of ended executions and stale ones (set by the app)."""

    partial_age_s: float = 24 * 3600.0
    """An unfinished upload (`.part`) older than this is left over from a crash: removed."""
