"""Reads an S3 object as one streamed GET, a few KiB at a time.

s3fs's file object fetches 8 MiB blocks, each read whole into memory by aiohttp (its chunks
and then their join: two copies) next to the read-ahead block kept from before, so hashing or
copying an object from S3 held about 30 MiB more than the rest of the step. Here the body of
one `GetObject` is read as it arrives on s3fs's own event loop; aiohttp's flow control keeps
what is buffered to a few hundred KiB.
"""

from __future__ import annotations

import asyncio
import io
from typing import IO, Any

from agent.steps.files._fs import Storage

PIECE = 2**18
"""Bytes asked of the response body at a time."""


def _wait(fs: Any, coro: Any) -> Any:
    """Run a coroutine on s3fs's event loop and wait for it from this (worker) thread."""
    return asyncio.run_coroutine_threadsafe(coro, fs.loop).result()


class _ObjectStream(io.RawIOBase):
    """The body of one GET of an S3 object, as a raw binary file."""

    def __init__(self, fs: Any, path: str) -> None:
        super().__init__()
        bucket, key, version = fs.split_path(path)
        extra = {"VersionId": version} if version else {}
        self._fs = fs
        # s3fs's call turns S3's errors into OSErrors (FileNotFoundError, PermissionError...).
        self._body = _wait(fs, fs._call_s3("get_object", Bucket=bucket, Key=key, **extra))["Body"]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = _wait(self._fs, self._body.read(min(len(view), PIECE)))
        except OSError:
            raise
        except Exception as exc:  # aiohttp's payload errors: the connection broke mid-object
            raise ConnectionError(f"the download stopped: {type(exc).__name__}") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._fs.loop.call_soon_threadsafe(self._body.close)
        super().close()


def open_read(storage: Storage, path: str) -> IO[bytes]:
    """Open `path` for reading: an S3 object as one stream, any other file with fsspec.

    Both read fully (`read(n)` and `readinto` return less only at the end), as a buffered file.
    """
    if storage.location.protocol == "s3":
        return io.BufferedReader(_ObjectStream(storage.fs, path), buffer_size=PIECE)
    opened: IO[bytes] = storage.fs.open(path, "rb")
    return opened
