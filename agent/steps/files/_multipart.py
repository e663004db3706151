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
from typing import IO, Any

from shared.steps import context

PART = 5 * 2**20
"""Bytes per part: S3's minimum (the last part may be smaller)."""
IN_FLIGHT = 4
"""Parts sent at once."""


def _submit(fs: Any, method: str, **kwargs: Any) -> concurrent.futures.Future[Any]:
    """Run one S3 call on s3fs's event loop; the future is waited on from this (worker) thread."""
    return asyncio.run_coroutine_threadsafe(fs._call_s3(method, **kwargs), fs.loop)


def _collect(done: set[concurrent.futures.Future[Any]], parts: list[dict[str, Any]]) -> None:
    for future in done:
        parts.append(future.result())


def upload(fs: Any, source: IO[bytes], path: str, *, part_size: int = PART, in_flight: int = IN_FLIGHT) -> int:
    """Upload `source` (read to its end) to the S3 `path`; returns the bytes sent.

    Raises:
        StepCancelled: the execution was cancelled (the upload is aborted first).
    """
    ctx = context()
    bucket, key, _ = fs.split_path(path)
    chunk = source.read(part_size)
    if len(chunk) < part_size:  # one part: a single PUT
        fs.pipe_file(path, chunk)
        return len(chunk)
    upload_id = _submit(fs, "create_multipart_upload", Bucket=bucket, Key=key).result()["UploadId"]
    common = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
    pending: set[concurrent.futures.Future[Any]] = set()
    parts: list[dict[str, Any]] = []
    total, number = 0, 0
    try:
        while chunk:
            number += 1
            pending.add(_part(fs, common, number, chunk))
            total += len(chunk)
            del chunk  # the bytes live on in the part being sent, not twice
            if len(pending) >= in_flight:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                _collect(done, parts)
            ctx.raise_if_cancelled()
            chunk = source.read(part_size)
        done, pending = concurrent.futures.wait(pending)
        _collect(done, parts)
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


def _part(fs: Any, common: dict[str, Any], number: int, data: bytes) -> concurrent.futures.Future[Any]:
    async def send() -> dict[str, Any]:
        answer = await fs._call_s3("upload_part", PartNumber=number, Body=data, **common)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    return asyncio.run_coroutine_threadsafe(send(), fs.loop)
