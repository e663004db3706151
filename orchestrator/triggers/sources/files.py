"""The files source: each file created, modified or deleted in a watched folder (local, S3
prefix, FTP folder) becomes one event.

How it keeps its promise:

- The cursor holds `{path: [size, version]}` of the files present at the last look (version =
  mtime in ns, ETag, or FTP's modify time): what was seen, bounded by what still exists.
- A look compares the folder with the cursor: a new path is `created`, another size or version
  `modified`, a path gone `deleted`. The first look of every run does this too, so what happened
  while the orchestrator was stopped is found (only the latest version of a file changed twice).
- A created or modified file waits until it is stable: the same size and version seen again
  `stable_s` seconds (or more) after first seen, so a file still being written is not taken.
- Each event has the key `path|size|version` (`deleted:path|size|version` for a deletion),
  stable across restarts; the cursor is saved only after `emit` returns.
- Local folders are watched with watchfiles (inotify, FSEvents, ReadDirectoryChangesW), each
  batch of changes followed by a look; S3 and FTP (and a local folder with `force_polling`, for
  network mounts that send no change notifications) are looked at every `poll_interval_s`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.triggers.sources._api import SourceContext, SourceEvent
from orchestrator.triggers.sources._common import Backoff, sleep_or_stop
from orchestrator.triggers.sources._fsscan import FileState, Folder, ScanFailed, open_folder

__all__ = ["FilesSource", "FilesSourceConfig"]

Change = Literal["created", "modified", "deleted"]
_S3_FIELDS = ("access_key_id", "secret_access_key", "endpoint_url", "region")
_FTP_FIELDS = ("username", "password")


def _created_only() -> list[Change]:
    return ["created"]


class FilesSourceConfig(BaseModel):
    """Which folder to watch, which files and changes count, and when a file is complete."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="The folder: a local path, `s3://bucket/prefix` or `ftp://host:port/dir`.", min_length=1
    )
    credential: str | None = Field(
        None,
        description="Vault credential for S3 (access_key_id, secret_access_key, endpoint_url, region) or FTP "
        "(username, password); none for a local folder or anonymous FTP.",
    )
    events: list[Change] = Field(
        default_factory=_created_only, min_length=1, description="Which changes start an execution."
    )
    patterns: list[str] = Field(
        default_factory=lambda: ["*"], description='Globs on the file name or its path in the folder, e.g. ["*.csv"].'
    )
    ignore: list[str] = Field(
        default_factory=list, description='Globs of files never taken, e.g. ["*.part", ".*"] for uploads in progress.'
    )
    recursive: bool = Field(False, description="Watch sub-folders too.")
    force_polling: bool = Field(
        False, description="Poll a local folder every poll_interval_s instead of watching it (network mounts)."
    )
    stable_s: float = Field(
        0.0, ge=0, description="Take a file only once its size and time stayed the same this many seconds."
    )
    poll_interval_s: float = Field(
        30.0, gt=0, description="Seconds between looks at an S3 or FTP folder (or a polled local one)."
    )
    process_existing: bool = Field(
        False, description="On the very first start, treat the files already there as created."
    )
    reconnect_initial_s: float = Field(1.0, gt=0, description="First delay after a failed look at the folder.")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest delay between attempts.")
    reconnect_attempts: int = Field(
        10, ge=1, description="Failed looks in a row after which the trigger reports an error."
    )


class _Watch:
    """The diff between the cursor and the folder, with files waiting to become stable."""

    def __init__(self, config: FilesSourceConfig, folder: Folder, ctx: SourceContext, state: dict[str, Any]) -> None:
        self.config, self.folder, self.ctx = config, folder, ctx
        self.known: dict[str, list[Any]] = {p: list(v) for p, v in state.get("files", {}).items()}
        self.started = bool(state)
        self.pending: dict[str, tuple[FileState, float]] = {}

    async def look(self) -> None:
        """List the folder and emit what changed (the cursor saved after each emit)."""
        now = await self.folder.scan()
        if not self.started:
            self.started = True
            if not self.config.process_existing:
                self.known = {path: state.as_list() for path, state in now.items()}
                await self._save()
                return
        for path in sorted(set(self.known) - set(now)):
            self.pending.pop(path, None)
            size, version = self.known.pop(path)
            if "deleted" in self.config.events:
                payload = {"change": "deleted", "path": path, "url": self.folder.display(path), "size": size}
                await self.ctx.emit(SourceEvent(f"deleted:{path}|{size}|{version}"[:500], payload))
            await self._save()
        for path, state in sorted(now.items()):
            if self.known.get(path) != state.as_list():
                await self._changed(path, state)

    async def _changed(self, path: str, state: FileState) -> None:
        change: Change = "modified" if path in self.known else "created"
        seen = self.pending.get(path)
        if self.config.stable_s > 0:
            if seen is None or seen[0] != state:
                self.pending[path] = (state, time.monotonic())  # new or still growing: wait
                return
            if time.monotonic() - seen[1] < self.config.stable_s:
                return
        self.pending.pop(path, None)
        if change in self.config.events:
            payload = {
                "change": change,
                "path": path,
                "url": self.folder.display(path),
                "name": path.rstrip("/").rsplit("/", 1)[-1],
                "size": state.size,
                "mtime": state.mtime,
                "etag": state.etag,
            }
            await self.ctx.emit(SourceEvent(f"{path}|{state.size}|{state.version}"[:500], payload))
        self.known[path] = state.as_list()
        await self._save()

    async def _save(self) -> None:
        await self.ctx.cursor.save({"url": self.folder.url, "files": self.known})


class FilesSource:
    """Watches a folder; each created / modified / deleted file is one event (module docstring)."""

    kind: ClassVar[str] = "files"
    config_model: ClassVar[type[BaseModel]] = FilesSourceConfig

    async def run(self, config: BaseModel, ctx: SourceContext) -> None:
        """Watch until `ctx.stop` is set; failed looks retried with backoff, `SourceError` past the bound."""
        cfg = config if isinstance(config, FilesSourceConfig) else FilesSourceConfig.model_validate(config.model_dump())
        secrets = await self._secrets(cfg, ctx)
        backoff = Backoff(cfg.reconnect_initial_s, cfg.reconnect_max_s, cfg.reconnect_attempts)
        while not ctx.stop.is_set():
            try:
                folder = await open_folder(
                    cfg.url, secrets, recursive=cfg.recursive, patterns=cfg.patterns, ignore=cfg.ignore
                )
                watch = _Watch(cfg, folder, ctx, await ctx.cursor.load())
                await watch.look()
                backoff.reset()
                if folder.protocol == "file" and not cfg.force_polling:
                    await self._watch_local(watch, cfg)
                else:
                    await self._poll(watch, cfg, backoff)
                return
            except ScanFailed as exc:
                if await backoff.wait(ctx, cfg.url.split("@")[-1], str(exc)):
                    return

    @staticmethod
    async def _secrets(cfg: FilesSourceConfig, ctx: SourceContext) -> dict[str, str]:
        if not cfg.credential or "://" not in cfg.url:
            return {}
        fields = _S3_FIELDS if cfg.url.lower().startswith("s3://") else _FTP_FIELDS
        values: dict[str, str] = {}
        for name in fields:
            try:
                values[name] = await ctx.secret(f"{cfg.credential}.{name}")
            except LookupError:  # an optional field the credential does not have (region, endpoint)
                continue
        return values

    @staticmethod
    async def _poll(watch: _Watch, cfg: FilesSourceConfig, backoff: Backoff) -> None:
        ctx = watch.ctx
        ctx.status(f"polling every {cfg.poll_interval_s:g} s")
        while True:
            # A file waiting to become stable is looked at again sooner than the next poll.
            waiting = watch.pending and cfg.stable_s
            interval = min(cfg.poll_interval_s, max(cfg.stable_s / 2, 0.1)) if waiting else cfg.poll_interval_s
            if await sleep_or_stop(ctx.stop, interval):
                return
            await watch.look()
            backoff.reset()

    @staticmethod
    async def _watch_local(watch: _Watch, cfg: FilesSourceConfig) -> None:
        watch.ctx.status("watching (watchfiles)")
        try:
            await FilesSource._watch_changes(watch, cfg)
        except (OSError, RuntimeError) as exc:  # watchfiles: the folder was removed or unmounted
            raise ScanFailed(f"{watch.folder.url}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    async def _watch_changes(watch: _Watch, cfg: FilesSourceConfig) -> None:
        from watchfiles import awatch

        ctx = watch.ctx
        first = True
        # debounce/step small: a change is seen within ~0.1 s; a 0.5 s timeout tick re-checks files
        # waiting to become stable and covers the gap between the first look and the watcher.
        async for changes in awatch(
            watch.folder.root,
            stop_event=ctx.stop,
            recursive=cfg.recursive,
            debounce=50,
            step=20,
            rust_timeout=500,
            watch_filter=None,  # the patterns decide, after each look
            yield_on_timeout=True,
        ):
            if changes or watch.pending or first:
                await watch.look()
            first = False
        if not ctx.stop.is_set():  # the watcher ended on its own: the folder went away
            raise ScanFailed(f"{watch.folder.url}: the folder is no longer watched")
