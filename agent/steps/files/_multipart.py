"""Uploads to S3 as a multipart upload with a bounded number of parts in flight.

s3fs's buffered writer sends one part at a time (slow), and its `put_file` sends parts
concurrently but reads them all ahead, holding `concurrency x part` bytes, and cannot be
stopped mid-file. Here the parts are sent on s3fs's own event loop (no extra threads), a few at
once, and a cancelled execution is seen before each next part. A part's body is a small
seekable file handed to aiohttp in 256 KiB pieces as the socket drains (given `bytes`, it
would write the whole part at once and asyncio would keep a copy of the unsent rest). From a
local file each part reads its own range of the file as it is sent, so no part is in memory;
from any other stream the parts are read into `IN_FLIGHT` buffers allocated once and reused.
The upload is completed only once every part is there; any failure or cancel aborts it, so
the object appears whole or not at all and no parts are left billed on the bucket.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import io
import os
from collections.abc import Callable
from typing import IO, Any

from shared.steps import context

PART = 5 * 2**20
"""Bytes per part: S3's minimum (the last part may be smaller)."""
IN_FLIGHT = 3
"""Parts sent at once from a stream (each held in memory while it is sent)."""
FILE_PART = 16 * 2**20
"""Bytes per part from a local file (its size costs no memory there; fewer requests)."""
FILE_IN_FLIGHT = 4
"""Parts sent at once from a local file (read from the file as they are sent)."""


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


class _Parts:
    """The parts of a readable source, read into buffers allocated once and reused (at most
    one per part in flight): a buffer is read into again only when its part has been sent."""

    def __init__(self, source: IO[bytes], part_size: int) -> None:
        self.source, self.part_size, self.free = source, part_size, list[bytearray]()

    def next(self) -> tuple[_PartBody, bytearray | None]:
        slot = self.free.pop() if self.free else bytearray(self.part_size)
        size = _fill(self.source, slot)
        view = memoryview(slot)[:size]
        return _PartBody(size, lambda at, n: view[at : at + n]), slot

    def release(self, slot: bytearray | None) -> None:
        if slot is not None:
            self.free.append(slot)


class _FileParts:
    """The parts of a local file, each read from its own range of the file as it is sent: no
    part is held in memory, whatever the number in flight."""

    def __init__(self, fd: int, size: int, part_size: int) -> None:
        self.fd, self.size, self.part_size, self.offset = fd, size, part_size, 0

    def next(self) -> tuple[_PartBody, bytearray | None]:
        start, size = self.offset, min(self.part_size, self.size - self.offset)
        self.offset += size
        return _PartBody(size, lambda at, n: os.pread(self.fd, min(n, size - at), start + at)), None

    def release(self, slot: bytearray | None) -> None:
        pass


def upload(fs: Any, source: IO[bytes], path: str, *, part_size: int = PART, in_flight: int = IN_FLIGHT) -> int:
    """Upload `source` (read to its end) to the S3 `path`; returns the bytes sent.

    Raises:
        StepCancelled: the execution was cancelled (the upload is aborted first).
    """
    first = bytearray(part_size)
    size = _fill(source, first)
    view = memoryview(first)[:size]
    body = _PartBody(size, lambda at, n: view[at : at + n])
    if size < part_size:  # one part: a single PUT
        return _put(fs, path, body)
    return _upload(fs, path, _Parts(source, part_size), (body, first), in_flight)


def upload_file(
    fs: Any, source: IO[bytes], path: str, *, part_size: int = FILE_PART, in_flight: int = FILE_IN_FLIGHT
) -> int:
    """Upload an open local file (from its start) to the S3 `path`, its parts read from the file
    as they are sent; returns the bytes sent.

    Raises:
        StepCancelled: the execution was cancelled (the upload is aborted first).
    """
    size = os.fstat(source.fileno()).st_size
    parts = _FileParts(source.fileno(), size, part_size)
    if size <= part_size:  # one part: a single PUT
        return _put(fs, path, parts.next()[0])
    return _upload(fs, path, parts, parts.next(), in_flight)


def _put(fs: Any, path: str, body: _PartBody) -> int:
    _register_payload()
    bucket, key, _ = fs.split_path(path)
    _submit(fs, "put_object", Bucket=bucket, Key=key, Body=body).result()
    fs.invalidate_cache(path)
    return body.size


def _upload(fs: Any, path: str, source: _Parts | _FileParts, first: tuple[_PartBody, Any], in_flight: int) -> int:
    ctx = context()
    bucket, key, _ = fs.split_path(path)
    upload_id = _submit(fs, "create_multipart_upload", Bucket=bucket, Key=key).result()["UploadId"]
    common = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
    pending: dict[concurrent.futures.Future[Any], bytearray | None] = {}
    parts: list[dict[str, Any]] = []
    total, number, (body, slot) = 0, 0, first
    try:
        while body.size:
            number += 1
            pending[_part(fs, common, number, body)] = slot
            total += body.size
            if len(pending) >= in_flight:
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    source.release(pending.pop(future))
                    parts.append(future.result())
            ctx.raise_if_cancelled()
            body, slot = source.next()
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


def _part(fs: Any, common: dict[str, Any], number: int, body: _PartBody) -> concurrent.futures.Future[Any]:
    _register_payload()

    async def send() -> dict[str, Any]:
        answer = await fs._call_s3("upload_part", PartNumber=number, Body=body, **common)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    return asyncio.run_coroutine_threadsafe(send(), fs.loop)


class _PartBody(io.RawIOBase):
    """A part's bytes as a seekable file, so they are sent in small pieces.

    Given `bytes` (or a `BytesIO`, which it turns into bytes), aiohttp writes the whole part to
    the socket at once and asyncio keeps the unsent rest in a copy; this body is sent piece by
    piece, waiting for the socket to drain (`_register_payload`), so each part is held once or,
    from a local file, not at all. Seekable (and readable as a file), as botocore reads the body
    to compute its checksum and rewinds it for a retry.
    """

    def __init__(self, size: int, fetch: Callable[[int, int], bytes | memoryview]) -> None:
        super().__init__()
        self.size = size
        self._fetch = fetch  # (offset in the part, bytes wanted) -> up to that many bytes
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self.size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def piece(self, at: int, size: int) -> bytes | memoryview:
        """Up to `size` bytes of the part from `at`."""
        return self._fetch(at, min(size, self.size - at)) if at < self.size else b""

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        piece = self.piece(self._at, len(view))
        view[: len(piece)] = piece
        self._at += len(piece)
        return len(piece)

    def __len__(self) -> int:
        return self.size


SEND_PIECE = 2**18
"""Bytes handed to aiohttp at a time when sending a part."""


@functools.cache
def _register_payload() -> None:
    """Teach aiohttp to send a `_PartBody` in `SEND_PIECE`s straight from the event loop.

    As a plain file, aiohttp would read it 64 KiB at a time through its thread pool: a thread
    hop per 64 KiB, and each thread's malloc arena grows with the parts in flight. The pieces
    come from memory or a `pread` of a local file (page cache), quick enough for the loop.
    Registered for `_PartBody` only; any other body is sent by aiohttp as before.
    """
    from aiohttp import payload

    class _PartPayload(payload.Payload):
        def __init__(self, value: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(value, *args, **kwargs)
            self._size = value.size

        def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
            raise TypeError("a part of an upload is binary")

        async def write(self, writer: Any) -> None:
            await self.write_with_length(writer, None)

        async def write_with_length(self, writer: Any, content_length: int | None) -> None:
            body, at = self._value, 0
            end = body.size if content_length is None else min(body.size, content_length)
            while at < end:
                piece = body.piece(at, min(SEND_PIECE, end - at))
                if not piece:
                    break
                await writer.write(piece)
                at += len(piece)

    payload.register_payload(_PartPayload, _PartBody, order=payload.Order.try_first)
