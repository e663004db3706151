"""Uploading the files an execution left in its artifacts folder, once it finished."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger("rpa.agent")

ATTEMPTS = 3


async def upload_artifacts(url: str, key: str, home: Path, execution_id: str) -> int:
    """Upload every file the execution left in `home/artifacts/<execution id>/` (streamed).

    A failed upload is logged, never fatal to the execution.

    Args:
        url: the orchestrator's base URL.
        key: the agent key.
        home: the agent's home folder.
        execution_id: the execution whose files to upload.

    Returns:
        How many files the orchestrator stored.
    """
    import httpx

    folder = home / "artifacts" / execution_id
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        return 0
    target = f"{url.rstrip('/')}/api/v1/agents/me/artifacts/{execution_id}"
    stored = 0
    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
        for path in files:
            name = path.relative_to(folder).as_posix()
            for attempt in range(ATTEMPTS):
                try:
                    response = await http.put(
                        target,
                        params={"name": name},
                        content=_chunks(path),
                        headers={"Content-Type": _content_type(path)},
                    )
                except httpx.HTTPError as exc:
                    log.warning("upload of artifact %s failed (%s); attempt %d", name, type(exc).__name__, attempt + 1)
                    await asyncio.sleep(0.5 * (attempt + 1))
                    continue
                if response.status_code == 201:
                    stored += 1
                else:
                    log.warning("the orchestrator refused artifact %s: HTTP %s", name, response.status_code)
                break
    return stored


async def _chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _content_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
