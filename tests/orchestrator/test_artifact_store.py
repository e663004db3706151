"""The artifact store on a folder and on moto's S3 server (127.0.0.1): streamed writes that appear
only when complete, size limits, keys that cannot leave the store, and the API end to end with
`RPA_ARTIFACT_STORE=s3://…`."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from orchestrator.services.artifact_store import (
    ArtifactMissing,
    ArtifactStore,
    FsspecStore,
    LocalStore,
    StoreLimitExceeded,
    open_store,
    put_stream,
    read_stream,
    redact,
)
from orchestrator.settings import Settings
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.test_agent_uploads import _agent, _held_by
from tests.servers import moto_s3

API = "/api/v1"
BUCKET = "artifacts"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3(BUCKET) as endpoint:
        yield endpoint


def _s3_options(endpoint: str) -> dict[str, Any]:
    return {"key": "test", "secret": "test", "endpoint_url": endpoint, "client_kwargs": {"region_name": "us-east-1"}}


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return open_store("", tmp_path / "artifacts")
    endpoint = request.getfixturevalue("s3_endpoint")
    made = open_store(f"s3://{BUCKET}/{uuid.uuid4().hex}", tmp_path, _s3_options(endpoint))
    # fsspec caches file systems and their listings: a fresh view for each test.
    assert isinstance(made, FsspecStore)
    made.fs.invalidate_cache()
    return made


async def _chunks(size: int, piece: int = 256 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        n = min(piece, size - sent)
        yield bytes((sent + i) % 251 for i in range(n))
        sent += n


async def test_a_streamed_file_is_kept_read_back_and_deleted(store: ArtifactStore) -> None:
    size = 6 * 1024 * 1024 + 17  # past s3fs's 5 MiB part size: a multipart upload
    stored = await put_stream(store, "org/exec/a1", _chunks(size), limit=size)
    assert stored.size == size
    expected = b"".join([c async for c in _chunks(size)])
    assert stored.sha256 == hashlib.sha256(expected).hexdigest()
    assert store.exists("org/exec/a1")
    assert not store.exists("org/exec/a1.part")
    assert store.size("org/exec/a1") == size
    got = b"".join([chunk async for chunk in read_stream(store, "org/exec/a1")])
    assert got == expected
    assert store.delete("org/exec/a1") is True
    assert store.delete("org/exec/a1") is False
    assert not store.exists("org/exec/a1")
    with pytest.raises(ArtifactMissing):
        store.size("org/exec/a1")
    with pytest.raises(ArtifactMissing):
        store.open("org/exec/a1")


async def test_an_upload_past_its_limit_leaves_nothing(store: ArtifactStore) -> None:
    with pytest.raises(StoreLimitExceeded) as refused:
        await put_stream(store, "org/exec/big", _chunks(3000, piece=1000), limit=2500)
    assert refused.value.limit == 2500
    assert not store.exists("org/exec/big")
    assert not store.exists("org/exec/big.part")


@pytest.mark.parametrize("key", ["../secret.key", "/etc/passwd", "org/../../secret.key", "", "org//x"])
def test_keys_cannot_leave_the_store(store: ArtifactStore, key: str) -> None:
    if isinstance(store, LocalStore) and key == "org//x":
        return  # a folder store normalises the empty part; nothing leaves the root
    with pytest.raises(ArtifactMissing):
        store.open(key)
    assert not store.exists(key)


def test_a_local_store_makes_private_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "root")
    asyncio.run(put_stream(store, "o/e/f", _chunks(10), limit=10))
    assert (tmp_path / "root" / "o" / "e" / "f").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "root" / "o" / "e").stat().st_mode & 0o777 == 0o700


def test_store_urls_choose_the_store_and_never_show_credentials(tmp_path: Path) -> None:
    assert isinstance(open_store("", tmp_path), LocalStore)
    assert isinstance(open_store(str(tmp_path / "x"), tmp_path), LocalStore)
    folder = open_store((tmp_path / "y").as_uri(), tmp_path)
    assert isinstance(folder, LocalStore)
    assert folder.root == tmp_path / "y"
    memory = open_store("memory://artifacts", tmp_path)
    assert isinstance(memory, FsspecStore)
    assert redact("s3://AKIA:s3cr3t@bucket/prefix") == "s3://bucket/prefix"
    assert redact("s3://bucket/prefix") == "s3://bucket/prefix"


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None, s3_endpoint: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
        max_artifact_bytes=8 * 1024 * 1024,
        artifact_store=f"s3://{BUCKET}/{uuid.uuid4().hex}",
        artifact_store_options=_s3_options(s3_endpoint),
    )


async def test_agents_upload_to_s3_and_users_download_from_it(
    app: FastAPI, client: Any, tenant: TenantFactory, settings: Settings
) -> None:
    owner = await tenant()
    agent_id, key = await _agent(app, owner.org_id, "uploader")
    execution = await _held_by(app, client, owner.headers, owner.org_id, agent_id)
    body = b"".join([c async for c in _chunks(6 * 1024 * 1024)])
    put = await client.put(
        f"{API}/agents/me/artifacts/{execution}",
        params={"name": "rapport é.csv"},
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
    )
    assert put.status_code == 201, put.text
    artifact_id = put.json()["id"]
    # The file lies in the bucket under the store's prefix, not in the data folder.
    store = open_store(settings.artifact_store, settings.data_dir, settings.artifact_store_options)
    assert store.size(f"{owner.org_id}/{execution}/{artifact_id}") == len(body)
    assert not (settings.data_dir / "artifacts").exists()
    got = await client.get(f"{API}/executions/{execution}/artifacts/{artifact_id}", headers=owner.headers)
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-length"] == str(len(body))
    assert got.headers["content-disposition"] == "attachment; filename*=utf-8''rapport%20%C3%A9.csv"
    assert got.headers["x-content-type-options"] == "nosniff"
    # Gone from the bucket: a clear 404, not a 500.
    assert isinstance(store, FsspecStore)
    store.delete(f"{owner.org_id}/{execution}/{artifact_id}")
    store.fs.invalidate_cache()
    missing = await client.get(f"{API}/executions/{execution}/artifacts/{artifact_id}", headers=owner.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "artifact_missing"
    too_big = await client.put(
        f"{API}/agents/me/artifacts/{execution}",
        params={"name": "big"},
        content=b"z" * (8 * 1024 * 1024 + 1),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "too_large"


async def test_unfinished_uploads_are_purged_and_finished_files_kept(store: ArtifactStore) -> None:
    await put_stream(store, "org/exec/done", _chunks(10), limit=10)
    writer = store.writer("org/exec/crashed")  # an upload a crash interrupted
    if isinstance(store, FsspecStore):
        # On S3: an open multipart upload at the final key (one 8 MiB part sent), not an object.
        writer.write(b"x" * (9 * 1024 * 1024))
        writer.flush()
        assert _open_uploads(store) == [f"{store.base.partition('/')[2]}/org/exec/crashed"]
        store.fs.invalidate_cache()
    else:
        writer.write(b"half")
        writer.close()
        assert store.exists("org/exec/crashed.part")
    assert not store.exists("org/exec/crashed")
    if not isinstance(store, FsspecStore):  # moto dates every multipart upload 2010-11-10: always old
        assert store.purge_partials(older_than_s=3600) == 0  # too recent to be a crash's
    assert store.purge_partials(older_than_s=0) == 1
    assert not store.exists("org/exec/crashed.part")
    if isinstance(store, FsspecStore):
        assert _open_uploads(store) == []
        writer.closed = True  # type: ignore[misc]  # the crashed process never closes it
    assert store.exists("org/exec/done")


def _open_uploads(store: FsspecStore) -> list[str]:
    bucket, _, prefix = store.base.partition("/")
    return [u["Key"] for u in store.fs.list_multipart_uploads(bucket) if u["Key"].startswith(prefix)]


async def test_s3_uploads_go_to_their_key_without_a_copy_and_a_failed_one_leaves_no_upload(
    store: ArtifactStore,
) -> None:
    if not isinstance(store, FsspecStore):
        assert isinstance(store, LocalStore)  # a folder renames its .part (tested above)
        return
    assert store.direct
    copies: list[str] = []
    original = store.fs.copy

    def counting_copy(*args: Any, **kwargs: Any) -> Any:
        copies.append(str(args))
        return original(*args, **kwargs)

    store.fs.copy = counting_copy
    size = 11 * 1024 * 1024  # three parts
    await put_stream(store, "org/exec/whole", _chunks(size), limit=size)
    assert copies == []
    assert store.size("org/exec/whole") == size
    with pytest.raises(StoreLimitExceeded):
        await put_stream(store, "org/exec/cut", _chunks(size), limit=size - 1)
    store.fs.invalidate_cache()
    assert not store.exists("org/exec/cut")
    assert _open_uploads(store) == []  # the parts sent were aborted, not completed


def test_store_credentials_stay_out_of_the_settings_repr_and_the_store_url(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        artifact_store="memory://vault",
        artifact_store_options={"secret": "s3cr3t-value"},
    )
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in open_store("s3://KEY:s3cr3t-value@b/p", tmp_path, {"anon": True}).url
