"""Wait for a file to appear and to stop changing (a download or an upload that has finished).

Polling, on every storage alike: a remote store has no change notifications to rely on, and a
local one is polled cheaply (one `stat` per interval).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from agent.steps.files._common import FilesParams, PathText, credential_field, entry, modified, path_field
from agent.steps.files._errors import map_storage_errors
from agent.steps.files._fs import Storage, open_storage
from shared.errors import StepTimeout
from shared.steps import context, step


class WaitParams(FilesParams):
    path: PathText = path_field("The file to wait for")
    stable_s: float = Field(
        default=2.0, ge=0, le=3600, description="How long size and modification time must stay unchanged."
    )
    timeout_s: float = Field(default=60.0, gt=0, le=86_400, description="Give up after this many seconds.")
    poll_s: float = Field(default=0.5, gt=0, le=60, description="Seconds between two looks.")
    credential: str | None = credential_field()


def _look(storage: Storage, path: str) -> dict[str, Any] | None:
    fs = storage.fs
    fs.invalidate_cache()
    try:
        info: dict[str, Any] = fs.info(path)
    except FileNotFoundError:
        return None
    return info if info.get("type") != "directory" else None


@step(
    "files.wait_for_file", params=WaitParams, output="The file's row {path, name, type, size, modified}.", effects=False
)
def wait_for_file(params: WaitParams) -> dict[str, Any]:
    """Wait until a file exists and its size and modification time stay unchanged for `stable_s`.

    Fails with a `timeout` error (retryable) when that does not happen within `timeout_s`.

    Example node:
        {"id": "export_ready", "type": "files.wait_for_file",
         "params": {"path": "/data/exports/daily.csv", "stable_s": 5, "timeout_s": 600}}
    """
    ctx = context()
    storage, path = open_storage(params.path, params.credential)
    deadline = time.monotonic() + params.timeout_s
    seen: tuple[Any, Any] | None = None
    since = 0.0
    while True:
        with storage.lock, map_storage_errors("waiting for", storage, path):
            info = _look(storage, path)
        now = time.monotonic()
        state = None if info is None else (info.get("size"), info.get("mtime") or modified(info))
        if state is None or state != seen:
            seen, since = state, now
        elif now - since >= params.stable_s:
            assert info is not None
            return entry(storage, info)
        if now >= deadline:
            what = "did not appear" if info is None else f"was still changing after {params.timeout_s:g} s"
            raise StepTimeout(
                f"{storage.location.display(path)} {what}", details={"path": storage.location.display(path)}
            )
        # Wakes at once when the execution is cancelled.
        ctx.cancel_event.wait(min(params.poll_s, max(deadline - now, 0.01)))
        ctx.raise_if_cancelled()
