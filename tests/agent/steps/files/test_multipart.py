"""Uploads to S3 (moto) as multipart uploads with several parts in flight: every byte arrives in
order, and a cancel between parts aborts the upload so nothing is left on the bucket. Reads from
S3 as one streamed GET fill whole parts."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from agent.steps import files
from agent.steps.files import _multipart as multipart
from agent.steps.files._fs import open_storage
from agent.steps.files._s3read import open_read
from shared.errors import StepCancelled, StepError
from shared.steps import StepEnvironment, step
from tests.agent.steps.files.servers import vault


@pytest.fixture
async def env(s3_server: str, tmp_path: Path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(secrets=vault(s3_server), artifacts_dir=tmp_path / "artifacts")
    await environment.run(files.make_folder, {"path": "s3://multipart", "credential": "s3-test"})
    try:
        yield environment
    finally:
        await environment.aclose()


class UploadParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    size: int
    cancel_after_reads: int = 0


class _Source(io.RawIOBase):
    """Random bytes read part by part; asks for a cancel after `cancel_after` reads (0: never)."""

    def __init__(self, data: bytes, env: StepEnvironment, cancel_after: int) -> None:
        self.data, self.env, self.cancel_after, self.reads, self.pos = data, env, cancel_after, 0, 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self.reads == self.cancel_after:
            self.env.cancel()
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk


def _upload_step(env: StepEnvironment, data: bytes) -> Any:
    @step("test.multipart_upload", params=UploadParams, output="bytes sent")
    def upload(params: UploadParams) -> dict[str, Any]:
        storage, path = open_storage(f"s3://multipart/{params.key}", "s3-test")
        source = _Source(data, env, params.cancel_after_reads)
        sent = multipart.upload(storage.fs, source, path, part_size=5 * 2**20, in_flight=3)
        return {"sent": sent, "reads": source.reads}

    return upload


def _open_uploads(env_fs: Any) -> list[str]:
    return [u["Key"] for u in env_fs.list_multipart_uploads("multipart")]


async def test_parts_in_flight_arrive_whole_and_in_order(env: StepEnvironment) -> None:
    data = os.urandom(23 * 2**20 + 11)  # five parts, three in flight
    out = await env.run(_upload_step(env, data), {"key": "whole.bin", "size": len(data)})
    assert out == {"sent": len(data), "reads": 6}
    digest = await env.run(files.hash_file, {"path": "s3://multipart/whole.bin", "credential": "s3-test"})
    assert digest == hashlib.sha256(data).hexdigest()


async def test_a_cancel_between_parts_aborts_the_upload(env: StepEnvironment) -> None:
    data = os.urandom(30 * 2**20)
    with pytest.raises(StepCancelled):
        await env.run(_upload_step(env, data), {"key": "cut.bin", "size": len(data), "cancel_after_reads": 2})
    env.cancel_event.clear()
    assert not await env.run(files.exists, {"path": "s3://multipart/cut.bin", "credential": "s3-test"})
    storage_fs = env.resources.get("files:s3:s3-test").fs
    assert _open_uploads(storage_fs) == []


async def test_files_copy_to_s3_uses_the_parallel_upload(env: StepEnvironment, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * 2**20 + 5))
    up = await env.run(files.copy, {"source": str(source), "destination": "s3://multipart/c/", "credential": "s3-test"})
    assert up["bytes"] == source.stat().st_size
    digest = await env.run(files.hash_file, {"path": "s3://multipart/c/big.bin", "credential": "s3-test"})
    assert digest == hashlib.sha256(source.read_bytes()).hexdigest()


class CopyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    target: str


@step("test.s3_to_s3_stream", params=CopyParams, output="bytes sent")
def _s3_to_s3(params: CopyParams) -> int:
    """Streams an S3 object into a multipart upload (what a copy between two S3 credentials does)."""
    storage, source = open_storage(params.source, "s3-test")
    _, target = open_storage(params.target, "s3-test")
    with open_read(storage, source) as reader:
        return multipart.upload(storage.fs, reader, target, part_size=5 * 2**20, in_flight=2)


async def test_an_s3_object_streams_into_full_parts(env: StepEnvironment) -> None:
    data = os.urandom(11 * 2**20 + 7)  # three parts; S3 refuses a part under 5 MiB but the last
    await env.run(_upload_step(env, data), {"key": "streamed.bin", "size": len(data)})
    sent = await env.run(_s3_to_s3, {"source": "s3://multipart/streamed.bin", "target": "s3://multipart/again.bin"})
    assert sent == len(data)
    digest = await env.run(files.hash_file, {"path": "s3://multipart/again.bin", "credential": "s3-test"})
    assert digest == hashlib.sha256(data).hexdigest()


async def test_hashing_a_missing_s3_object_names_it(env: StepEnvironment) -> None:
    with pytest.raises(StepError) as missing:
        await env.run(files.hash_file, {"path": "s3://multipart/nope.bin", "credential": "s3-test"})
    assert missing.value.kind == "not_found"
    assert not missing.value.retryable
    assert "s3://multipart/nope.bin" in missing.value.message


class FileParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    local: str
    key: str


@step("test.multipart_upload_file", params=FileParams, output="bytes sent")
def _upload_file(params: FileParams) -> int:
    storage, path = open_storage(f"s3://multipart/{params.key}", "s3-test")
    with open(params.local, "rb") as source:
        return multipart.upload_file(storage.fs, source, path, part_size=5 * 2**20, in_flight=3)


async def test_a_local_file_goes_up_in_ranges_read_as_sent(env: StepEnvironment, tmp_path: Path) -> None:
    local = tmp_path / "ranges.bin"
    local.write_bytes(os.urandom(26 * 2**20 + 3))  # six parts, three in flight, a 3-byte last one
    sent = await env.run(_upload_file, {"local": str(local), "key": "ranges.bin"})
    assert sent == local.stat().st_size
    digest = await env.run(files.hash_file, {"path": "s3://multipart/ranges.bin", "credential": "s3-test"})
    assert digest == hashlib.sha256(local.read_bytes()).hexdigest()
    assert _open_uploads(env.resources.get("files:s3:s3-test").fs) == []


@pytest.mark.parametrize("size", [0, 3 * 2**20 + 1])
async def test_a_local_file_of_one_part_goes_in_one_put(env: StepEnvironment, tmp_path: Path, size: int) -> None:
    local = tmp_path / "small.bin"
    local.write_bytes(os.urandom(size))
    assert await env.run(_upload_file, {"local": str(local), "key": f"small-{size}.bin"}) == size
    path = f"s3://multipart/small-{size}.bin"
    assert await env.run(files.exists, {"path": path, "credential": "s3-test"})
    digest = await env.run(files.hash_file, {"path": path, "credential": "s3-test"})
    assert digest == hashlib.sha256(local.read_bytes()).hexdigest()
    assert _open_uploads(env.resources.get("files:s3:s3-test").fs) == []
