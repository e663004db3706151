"""Uploading the files an execution left in its artifacts folder, once it finished — now, or when
the orchestrator can take them.

An execution that ended while the orchestrator was unreachable (an attended run started offline;
a connection lost at the end of a job) keeps its files to send: `PendingUploads` writes a small
record per execution (`<home>/uploads/<execution id>.json`, the names already stored) before the
first attempt, and sends what is left whenever the runtime has a connection again (after its
welcome, after an attended run's report is recorded, on heartbeats while any is left). A file is
sent until the orchestrator stores it (201) or refuses it for good (another 4xx than 404), then
never again, across agent restarts too. 404 (the execution is not known yet: its report was not
recorded), 401, 408, 429, 5xx and network errors keep it for later, for at most `KEEP_PENDING_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("rpa.agent")

LATER = frozenset({401, 404, 408, 429})
"""Answers that leave a file to send later: 404 is an execution not recorded there yet."""
KEEP_PENDING_S = 7 * 24 * 3600.0
"""How long an execution's files wait for an orchestrator that can take them."""


class PendingUploads:
    """The artifacts of ended executions that are not all in the orchestrator yet.

    Args:
        home: the agent's home folder (artifacts under `artifacts/`, records under `uploads/`).
        url: the orchestrator's base URL now.
        key: the agent key now.
    """

    def __init__(self, home: Path, url: Callable[[], str], key: Callable[[], str]) -> None:
        self.home = home
        self.folder = home / "uploads"
        self.url, self.key = url, key
        self._flushing: asyncio.Task[int] | None = None
        self._again = False
        self._locks: dict[str, asyncio.Lock] = {}
        """One sender per execution at a time: the end of a run and a flush never send a file twice."""

    def pending(self) -> list[str]:
        """The executions with files still to send."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def _record_path(self, execution_id: str) -> Path:
        return self.folder / f"{execution_id}.json"

    def _files(self, execution_id: str) -> list[Path]:
        folder = self.home / "artifacts" / execution_id
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []

    def _load(self, execution_id: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self._record_path(execution_id).read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _save(self, execution_id: str, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._record_path(execution_id)
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps(record))
        os.replace(partial, path)  # a crash leaves the old record or the new one, never half of one

    def _done(self, execution_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._record_path(execution_id).unlink()

    async def send(self, execution_id: str, *, ended: bool = False) -> bool:
        """Send the files of an ended execution that the orchestrator has not stored yet.

        Args:
            execution_id: the execution.
            ended: it just ended here: its files are to send (a record is made first, so a crash
                or a refusal leaves them pending). Otherwise only a pending record is followed.

        Returns:
            True when none is left to send (stored, refused for good, or none made).
        """
        if execution_id not in self._locks and not self._any(execution_id):
            return True  # most executions leave no file: nothing to lock, load or remember
        lock = self._locks.setdefault(execution_id, asyncio.Lock())
        async with lock:
            return await self._send(execution_id, ended)

    def _any(self, execution_id: str) -> bool:
        """Whether the execution has an artifacts folder or a pending record."""
        return (self.home / "artifacts" / execution_id).is_dir() or self._record_path(execution_id).is_file()

    async def _send(self, execution_id: str, ended: bool) -> bool:
        record = self._load(execution_id)
        files = self._files(execution_id)
        if record is None:
            if not ended or not files:
                return True  # sent already (by another flush), or nothing to send
            record = {"created": time.time(), "stored": []}
            try:
                self._save(execution_id, record)
            except OSError as exc:  # no record: the files go now or never, as before
                log.warning("execution %s: its uploads cannot be remembered (%s)", execution_id, exc)
        done = set(record.get("stored", []))
        left = [p for p in files if p.relative_to(self.home / "artifacts" / execution_id).as_posix() not in done]
        complete = await self._upload(execution_id, left, done, record)
        if complete or time.time() - float(record.get("created", 0)) > KEEP_PENDING_S:
            if not complete:
                log.warning("execution %s: its artifacts were never taken; not sent", execution_id)
            self._done(execution_id)
            self._locks.pop(execution_id, None)
            return True
        return False

    async def _upload(self, execution_id: str, files: list[Path], done: set[str], record: dict[str, Any]) -> bool:
        import httpx

        if not files:
            return True
        target = f"{self.url().rstrip('/')}/api/v1/agents/me/artifacts/{execution_id}"
        folder = self.home / "artifacts" / execution_id
        async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {self.key()}"}) as http:
            for path in files:
                name = path.relative_to(folder).as_posix()
                try:
                    response = await http.put(
                        target, params={"name": name}, content=_chunks(path), headers={"Content-Type": _type(path)}
                    )
                except (httpx.HTTPError, OSError) as exc:
                    log.info("artifact %s of %s not sent yet (%s)", name, execution_id, type(exc).__name__)
                    return False
                if response.status_code in LATER or response.status_code >= 500:
                    return False  # not known there yet (an attended run's report), or not now
                if response.status_code != 201:
                    log.warning("the orchestrator refused artifact %s: HTTP %s", name, response.status_code)
                done.add(name)
                record["stored"] = sorted(done)
                with contextlib.suppress(OSError):
                    self._save(execution_id, record)
        return True

    async def flush(self) -> int:
        """Try every pending execution once; returns how many are done now."""
        sent = 0
        for execution_id in self.pending():
            if await self.send(execution_id):
                sent += 1
        return sent

    def flush_soon(self) -> None:
        """Flush in the background (on the running loop) unless nothing is pending; a flush
        asked for while one runs follows it."""
        if self._flushing is not None and not self._flushing.done():
            self._again = True
            return
        if not self.pending():
            return
        self._flushing = asyncio.get_running_loop().create_task(self.flush())
        self._flushing.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[int]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("the artifacts' upload failed: %s", task.exception())
        if self._again:
            self._again = False
            self.flush_soon()

    async def aclose(self) -> None:
        """Stop a flush going on (what it did not send stays pending)."""
        if self._flushing is not None and not self._flushing.done():
            self._flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flushing


async def _chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
