"""Uploads to S3 as a multipart upload with a bounded number of parts in flight.

s3fs's buffered writer sends one part at a time (slow), and its `put_file` sends parts
concurrently but reads them all ahead, holding `concurrency x part` bytes, and cannot be
stopped mid-file. Here the parts are read one by one from the source and sent on s3fs's own
event loop (no extra threads), at most `IN_FLIGHT` at once: memory is bounded by
`(IN_FLIGHT + 1) x PART`, and a cancelled execution is seen before each part is read. The
upload is completed only once every part is there; any failure or cancel aborts it, so the
object appears whole or not at all and no parts are left billed on the bucket.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
from typing import IO, Any

from shared.steps import context

PART = 5 * 2**20
"""Bytes per part: S3's minimum (the last part may be smaller)."""
IN_FLIGHT = 3
"""Parts sent at once."""


def _submit(fs: Any, method: str, **kwargs: Any) -> concurrent.futures.Future[Any]:
    """Run one S3 call on s3fs's event loop; the future is waited on from this (worker) thread."""
    return asyncio.run_coroutine_threadsafe(fs._call_s3(method, **kwargs), fs.loop)


def _fill(source: IO[bytes], slot: bytearray) -> int:
    """Read the next part from `source` into `slot`; returns its size (short only at the end).

    A buffered reader (a local file, fsspec's files) fills it in one `readinto`, as `read(n)`
    returns `n` bytes until the end; a reader without a working `readinto` is read and copied.
    """
    try:
        got = source.readinto(slot)  # type: ignore[attr-defined]
    except (AttributeError, NotImplementedError, io.UnsupportedOperation):
        data = source.read(len(slot))
        slot[: len(data)] = data
        got = len(data)
    return int(got or 0)


def upload(fs: Any, source: IO[bytes], path: str, *, part_size: int = PART, in_flight: int = IN_FLIGHT) -> int:
    """Upload `source` (read to its end) to the S3 `path`; returns the bytes sent.

    The parts are read into `in_flight` buffers allocated once and reused: a part's buffer is
    read into again only when that part has been sent.

    Raises:
        StepCancelled: the execution was cancelled (the upload is aborted first).
    """
    ctx = context()
    bucket, key, _ = fs.split_path(path)
    slot = bytearray(part_size)
    size = _fill(source, slot)
    if size < part_size:  # one part: a single PUT
        fs.pipe_file(path, bytes(slot[:size]))
        return size
    upload_id = _submit(fs, "create_multipart_upload", Bucket=bucket, Key=key).result()["UploadId"]
    common = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
    pending: dict[concurrent.futures.Future[Any], bytearray] = {}
    parts: list[dict[str, Any]] = []
    slots: list[bytearray] = []  # the buffers of parts sent, free to read into
    total, number = 0, 0
    try:
        while size:
            number += 1
            pending[_part(fs, common, number, memoryview(slot)[:size])] = slot
            total += size
            if len(pending) >= in_flight:
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                slots.extend(pending.pop(future) for future in done)
                parts.extend(future.result() for future in done)
            ctx.raise_if_cancelled()
            slot = slots.pop() if slots else bytearray(part_size)
            size = _fill(source, slot)
        concurrent.futures.wait(pending)
        parts.extend(future.result() for future in pending)
        pending.clear()
        parts.sort(key=lambda p: p["PartNumber"])
    except BaseException:
        for future in pending:
            future.cancel()
        concurrent.futures.wait(pending)
        with contextlib.suppress(Exception):  # the first error is the one to report
            _submit(fs, "abort_multipart_upload", **common).result()
        raise
    _complete(fs, path, common, parts, total)
    return total


def _complete(fs: Any, path: str, common: dict[str, Any], parts: list[dict[str, Any]], total: int) -> None:
    """Complete the upload. A complete that timed out is retried by botocore; if the first try
    went through, the retry finds the upload gone (NoSuchUpload): the object is then checked."""
    try:
        _submit(fs, "complete_multipart_upload", MultipartUpload={"Parts": parts}, **common).result()
    except FileNotFoundError:
        fs.invalidate_cache(path)
        if not fs.exists(path) or fs.size(path) != total:
            raise
    except BaseException:
        with contextlib.suppress(Exception):
            _submit(fs, "abort_multipart_upload", **common).result()
        raise
    fs.invalidate_cache(path)


def _part(fs: Any, common: dict[str, Any], number: int, data: memoryview) -> concurrent.futures.Future[Any]:
    async def send() -> dict[str, Any]:
        answer = await fs._call_s3("upload_part", PartNumber=number, Body=_PartBody(data), **common)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    return asyncio.run_coroutine_threadsafe(send(), fs.loop)


class _PartBody(io.RawIOBase):
    """A part's bytes as a seekable file, so aiohttp sends them in small chunks.

    Given `bytes` (or a `BytesIO`, which it turns into bytes), aiohttp writes the whole part to
    the socket at once and asyncio keeps the unsent rest in a copy; from a file it reads 64 KiB
    at a time and waits for the socket to drain, so each part is held once. Seekable, as
    botocore rewinds the body to compute its checksum and for a retry.
    """

    def __init__(self, data: memoryview) -> None:
        super().__init__()
        self._view = data
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: len(self._view)}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer: Any) -> int:
        piece = self._view[self._at : self._at + len(buffer)]
        size = len(piece)
        memoryview(buffer).cast("B")[:size] = piece
        self._at += size
        return size

    def __len__(self) -> int:
        return len(self._view)
