"""Session checkpoints: the sealed state of an execution's open sessions, kept for a resume.

An agent sends the state of a session kept open across steps (a browser's cookies, storage and
tabs) after the steps that changed it (`session.checkpoint`, protocol version 4). When the
execution is given to an agent again, the dispatch hands the latest state of each session back in
`job.assign.sessions`, so the session reopens on whichever agent resumes it.

Invariants:
- Sealed at rest: AES-256-GCM under the organisation's active vault data key (`vault_keys`),
  with the organisation, the execution and the data key's version in the associated data, so a
  file copied to another execution or organisation does not open. It exists in clear only in
  this process's memory, while it is received or handed to an agent.
- Never a user's artifact: the files live in the artifact store under the reserved namespace
  `_session-checkpoints/<org>/<execution>` (artifact keys start with an organisation id), with no
  `artifacts` row, so no listing, search, download or retention rule of the artifact API can
  reach them; no route reads them. Never in the journal, never logged (only session keys and
  sizes are).
- One file per execution (every session in it, latest wins), deleted when the execution ends
  (its journal's end is stored) and, for the ends no agent reports (a deadline, a cancel of a
  run no agent holds), by the purger's pass (`purge`): any file whose execution is ended or
  gone, or older than `max_age_s`.

Why the artifact store and not a table: it already is the orchestrator's place for execution
files (a folder, or S3 and the like at scale, shared by every replica), and a new table would need
a migration.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.session import Database
from orchestrator.models.executions import Execution
from orchestrator.security.crypto import CryptoError, KeyRing, decrypt, encrypt
from orchestrator.services.artifact_store import ArtifactMissing, ArtifactStore, FsspecStore, LocalStore
from orchestrator.services.execution_states import TERMINAL, State
from orchestrator.services.vault_keys import active_data_key, data_keys

__all__ = ["NAMESPACE", "SessionCheckpoints", "checkpoint_aad"]

log = logging.getLogger("rpa.orchestrator")

NAMESPACE = "_session-checkpoints"
"""The reserved top folder of the artifact store (artifact keys begin with an organisation id)."""
FORMAT = 1
PAD_TO = 256
"""Plaintexts are padded to a multiple of this, so a file's size says little about the state."""
DEFAULT_MAX_AGE_S = 7 * 24 * 3600.0


def checkpoint_aad(org_id: uuid.UUID, execution_id: uuid.UUID, version: int) -> bytes:
    """What a sealed file is bound to: its organisation, its execution, the data key's version."""
    return f"rpa-session-checkpoints/v{FORMAT}|{org_id}|{execution_id}|{version}".encode()


def _key(org_id: uuid.UUID, execution_id: uuid.UUID) -> str:
    return f"{NAMESPACE}/{org_id}/{execution_id}"


class SessionCheckpoints:
    """The sealed session checkpoints of every execution, in the artifact store.

    Args:
        db: the database (for the organisation's data keys and the purge's execution states).
        store: the artifact store.
        keyring: the vault's master keys now.
        max_age_s: a file not updated for this long is deleted by `purge`, whatever its execution.
    """

    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        keyring: Callable[[], KeyRing],
        *,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self.db = db
        self.store = store
        self.keyring = keyring
        self.max_age_s = max_age_s
        self._locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = weakref.WeakValueDictionary()
        """One writer per execution at a time (a lock lives while someone holds or waits for it)."""

    async def put(self, org_id: uuid.UUID, execution_id: uuid.UUID, session: str, state: dict[str, Any] | None) -> None:
        """Keep the latest state of one session of an execution (None: forget the session)."""
        lock = self._locks.get(execution_id)
        if lock is None:
            lock = self._locks[execution_id] = asyncio.Lock()
        async with lock:
            sessions = await self.load(org_id, execution_id)
            if state is None:
                sessions.pop(session, None)
            else:
                sessions[session] = state
            if sessions:
                await self._write(org_id, execution_id, sessions)
            else:
                await asyncio.to_thread(self.store.delete, _key(org_id, execution_id))

    async def load(
        self, org_id: uuid.UUID, execution_id: uuid.UUID, session: AsyncSession | None = None
    ) -> dict[str, dict[str, Any]]:
        """The latest state of each session of an execution ({} when none is kept or it does not
        open: the step then says the session cannot be restored).

        Args:
            org_id: the execution's organisation.
            execution_id: the execution.
            session: a transaction to read the data keys in (the dispatch's); default a new one.
        """
        raw = await asyncio.to_thread(_read, self.store, _key(org_id, execution_id))
        if raw is None:
            return {}
        try:
            sealed = json.loads(raw)
            version = int(sealed["dk"])
            if session is None:
                async with self.db.transaction() as own:
                    keys = await data_keys(own, org_id, self.keyring())
            else:
                keys = await data_keys(session, org_id, self.keyring())
            plain = decrypt(
                keys[version],
                base64.b64decode(sealed["nonce"]),
                base64.b64decode(sealed["ct"]),
                checkpoint_aad(org_id, execution_id, version),
            )
            sessions: dict[str, dict[str, Any]] = json.loads(plain)
        except (CryptoError, KeyError, TypeError, ValueError):
            log.warning("the session checkpoints of execution %s do not open (altered or moved); ignored", execution_id)
            return {}
        return sessions

    async def delete(self, org_id: uuid.UUID, execution_id: uuid.UUID) -> bool:
        """Forget every session checkpoint of an execution; False when there was none."""
        return await asyncio.to_thread(self.store.delete, _key(org_id, execution_id))

    async def _write(self, org_id: uuid.UUID, execution_id: uuid.UUID, sessions: dict[str, dict[str, Any]]) -> None:
        async with self.db.transaction() as session:
            version, key = await active_data_key(session, org_id, self.keyring())
        plain = json.dumps(sessions, separators=(",", ":"), ensure_ascii=False).encode()
        plain += b" " * (-len(plain) % PAD_TO)  # JSON ignores trailing blanks
        nonce, ciphertext = encrypt(key, plain, checkpoint_aad(org_id, execution_id, version))
        sealed = json.dumps(
            {
                "format": FORMAT,
                "dk": version,
                "nonce": base64.b64encode(nonce).decode(),
                "ct": base64.b64encode(ciphertext).decode(),
            }
        ).encode()
        await asyncio.to_thread(_write, self.store, _key(org_id, execution_id), sealed)

    async def purge(self, now: float | None = None) -> int:
        """Delete the files of executions that ended or are gone, and those older than
        `max_age_s`; how many went. Safe on several replicas at once (a delete of a missing file
        is a no-op)."""
        now = time.time() if now is None else now
        found = await asyncio.to_thread(lambda: list(_listing(self.store)))
        if not found:
            return 0
        ids = {execution_id for _, execution_id, _ in found}
        async with self.db.transaction() as session:
            rows = await session.execute(select(Execution.id, Execution.state).where(Execution.id.in_(ids)))
            states = {row[0]: State(row[1]) for row in rows}
        removed = 0
        for org_id, execution_id, modified in found:
            state = states.get(execution_id)
            if state is None or state in TERMINAL or now - modified > self.max_age_s:
                removed += await asyncio.to_thread(self.store.delete, _key(org_id, execution_id))
        if removed:
            log.info("removed the session checkpoints of %d ended or stale execution(s)", removed)
        return removed


def _read(store: ArtifactStore, key: str) -> bytes | None:
    try:
        with store.open(key) as handle:
            return handle.read()
    except ArtifactMissing:
        return None


def _write(store: ArtifactStore, key: str, data: bytes) -> None:
    try:
        with store.writer(key) as handle:
            handle.write(data)
    except BaseException:
        store.abort(key)
        raise
    store.commit(key)


def _listing(store: ArtifactStore) -> Iterator[tuple[uuid.UUID, uuid.UUID, float]]:
    """(organisation, execution, modified) of every file in the namespace."""
    for org, execution, modified in _entries(store):
        try:
            yield uuid.UUID(org), uuid.UUID(execution), modified
        except ValueError:
            continue  # not one of ours (a partial upload, a stray file)


def _entries(store: ArtifactStore) -> Iterator[tuple[str, str, float]]:
    if isinstance(store, LocalStore):
        base = store.root / NAMESPACE
        if not base.is_dir():
            return
        for path in base.glob("*/*"):
            if path.is_file():
                yield path.parent.name, path.name, path.stat().st_mtime
    elif isinstance(store, FsspecStore):
        remote = f"{store.base}/{NAMESPACE}"
        if not store.fs.exists(remote):
            return
        for name, info in store.fs.find(remote, detail=True).items():
            parts = name.rstrip("/").split("/")
            if len(parts) >= 2:
                yield parts[-2], parts[-1], _modified(info)


def _modified(info: dict[str, Any]) -> float:
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0.0
    return value.timestamp() if hasattr(value, "timestamp") else float(value)
