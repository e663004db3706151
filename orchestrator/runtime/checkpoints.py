"""The background loop that writes signed audit checkpoints (`services/audit_checkpoints.py`)
every `audit_checkpoint_s` seconds; started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from orchestrator.background import BackgroundService
from orchestrator.db.session import Database
from orchestrator.security.audit_keys import AuditKey
from orchestrator.services.audit_checkpoints import Checkpoint, write_checkpoints

log = logging.getLogger(__name__)


class CheckpointWriter(BackgroundService):
    """Writes checkpoints every `interval_s` seconds (and once more when stopped)."""

    name = "audit-checkpoints"

    def __init__(self, db: Database, directory: Path, key: AuditKey, interval_s: float) -> None:
        self.db, self.directory, self.key, self.interval_s = db, directory, key, interval_s

    async def write(self) -> list[Checkpoint]:
        try:
            return await write_checkpoints(self.db, self.directory, self.key)
        except (OSError, ValueError) as exc:  # a full disk must not stop the server; it is logged
            log.error("could not write audit checkpoints to %s: %s", self.directory, exc)
            return []

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.write()

    async def stop(self) -> None:
        await super().stop()
        await self.write()
