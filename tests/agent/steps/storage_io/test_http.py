"""`http.download` to a storage URL and multipart upload from one (S3 and SFTP, loopback site)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest

from agent.steps import files
from agent.steps.http import download, request
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.files.servers import SftpServer
from tests.agent.steps.http import server as srv


@pytest.fixture(scope="module")
def site() -> Iterator[srv.LoopbackSite]:
    running = srv.LoopbackSite()
    running.start()
    try:
        yield running
    finally:
        running.stop()


async def test_download_to_s3_then_upload_from_s3(env: StepEnvironment, bucket: str, site: srv.LoopbackSite) -> None:
    size = 9 * 2**20 + 5  # more than one 8 MiB part: a multipart upload completed only when whole
    url = f"{bucket}/downloads/body.bin"
    s3 = {"storage_credential": "s3-test"}
    got = await env.run(download, {"url": f"{site.url}/download?size={size}", "path": url, **s3})
    expected = srv.expected_download(size)
    assert got["path"] == url
    assert got["size"] == size
    assert got["sha256"] == hashlib.sha256(expected).hexdigest()
    stored = await env.run(files.hash_file, {"path": url, "credential": "s3-test"})
    assert stored == got["sha256"]
    with pytest.raises(StepError, match="already exists"):
        await env.run(download, {"url": f"{site.url}/download?size=10", "path": url, **s3})

    sent = await env.run(
        request, {"method": "POST", "url": f"{site.url}/echo", "files": [{"field": "doc", "path": url, **s3}]}
    )
    assert sent["json"]["files"]["doc"]["filename"] == "body.bin"
    assert sent["json"]["files"]["doc"]["size"] == size


async def test_download_to_sftp_and_upload_from_it(
    env: StepEnvironment, sftp_server: SftpServer, site: srv.LoopbackSite
) -> None:
    folder = f"in-{uuid.uuid4().hex[:8]}"  # the session's SFTP server is shared with other tests
    url = sftp_server.url(f"/{folder}/report.txt")
    sftp = {"storage_credential": "sftp-test"}
    got = await env.run(download, {"url": f"{site.url}/download?size=1000", "path": url, **sftp})
    assert got["path"] == url
    assert (sftp_server.home / folder / "report.txt").read_bytes() == srv.expected_download(1000)
    assert [p.name for p in (sftp_server.home / folder).iterdir()] == ["report.txt"]  # no part file left
    sent = await env.run(
        request, {"method": "POST", "url": f"{site.url}/echo", "files": [{"field": "f", "path": url, **sftp}]}
    )
    assert sent["json"]["files"]["f"] == {
        "filename": "report.txt",
        "content_type": "text/plain",
        "size": 1000,
        "text": srv.expected_download(1000).decode("utf-8", "replace"),
    }


async def test_a_failed_download_leaves_nothing_in_the_bucket(
    env: StepEnvironment, bucket: str, site: srv.LoopbackSite
) -> None:
    url = f"{bucket}/downloads/missing.bin"
    with pytest.raises(StepError) as failed:
        await env.run(download, {"url": f"{site.url}/status/404", "path": url, "storage_credential": "s3-test"})
    assert failed.value.details["status"] == 404
    assert not await env.run(files.exists, {"path": url, "credential": "s3-test"})
