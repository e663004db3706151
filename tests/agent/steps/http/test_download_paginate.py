"""`http.download` (streamed to a file) and `http.paginate` (three pagination styles)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agent.steps.http import download, paginate
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.http import server as srv


async def test_download_streams_the_body_to_a_file(
    env: StepEnvironment, server: srv.LoopbackSite, tmp_path: Path
) -> None:
    size = 300_000
    target = tmp_path / "out" / "blob.bin"
    out = await env.run(download, {"url": f"{server.url}/download?size={size}", "path": str(target)})
    expected = srv.expected_download(size)
    assert target.read_bytes() == expected
    assert out["size"] == size
    assert out["sha256"] == hashlib.sha256(expected).hexdigest()
    assert out["content_type"] == "application/octet-stream"
    assert not target.with_name("blob.bin.part").exists()

    with pytest.raises(StepError, match="already exists"):
        await env.run(download, {"url": f"{server.url}/download?size=10", "path": str(target)})
    again = await env.run(download, {"url": f"{server.url}/download?size=10", "path": str(target), "overwrite": True})
    assert again["size"] == 10
    assert target.read_bytes() == srv.expected_download(10)


async def test_download_retries_a_503_and_sends_the_credential(
    env: StepEnvironment, server: srv.LoopbackSite, tmp_path: Path
) -> None:
    target = tmp_path / "tries.json"
    out = await env.run(
        download,
        {
            "url": f"{server.url}/flaky/dl?fails=1",
            "path": str(target),
            "backoff_s": 0.01,
            "auth": {"kind": "bearer", "credential": "api"},
        },
    )
    assert out["status"] == 200
    assert target.read_text() == '{"tries":2}'
    assert [hit["headers"]["authorization"] for hit in server.seen["/flaky/dl"]] == [f"Bearer {srv.TOKEN}"] * 2


async def test_a_refused_download_leaves_no_file(
    env: StepEnvironment, server: srv.LoopbackSite, tmp_path: Path
) -> None:
    target = tmp_path / "missing.bin"
    with pytest.raises(StepError) as failed:
        await env.run(download, {"url": f"{server.url}/status/404", "path": str(target)})
    assert failed.value.details["status"] == 404
    assert os.listdir(tmp_path) == []


async def test_download_to_an_unknown_storage_says_which_there_are(
    env: StepEnvironment, server: srv.LoopbackSite
) -> None:
    # Storage URLs themselves: tests/agent/steps/storage_io/test_http_email.py.
    with pytest.raises(StepError, match="'webdav://' is not a supported storage"):
        await env.run(download, {"url": f"{server.url}/download", "path": "webdav://host/key"})


@pytest.mark.parametrize(
    "params",
    [
        {"url": "/pages/next", "mode": "next_link", "items": "data", "next_field": "links.next"},
        {"url": "/pages/link", "mode": "link_header"},
        {
            "url": "/pages/cursor",
            "mode": "cursor",
            "items": "items",
            "cursor_field": "meta.next",
            "cursor_param": "after",
        },
        {"url": "/pages/number", "mode": "page", "items": "results", "page_param": "p"},
    ],
    ids=["next_link", "link_header", "cursor", "page"],
)
async def test_paginate_collects_every_page_into_one_table(
    env: StepEnvironment, server: srv.LoopbackSite, params: dict[str, str]
) -> None:
    table = await env.run(paginate, {**params, "url": server.url + params["url"]})
    assert table == srv.ROWS


async def test_more_pages_than_max_pages_is_an_error(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    with pytest.raises(StepError) as failed:
        await env.run(paginate, {"url": f"{server.url}/pages/link", "mode": "link_header", "max_pages": 2})
    assert failed.value.kind == "pagination"
    assert failed.value.details == {"rows": 6}


async def test_items_that_are_not_a_list_are_a_business_error(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    with pytest.raises(StepError, match="not a list") as failed:
        await env.run(paginate, {"url": f"{server.url}/pages/next", "mode": "next_link", "items": "links"})
    assert failed.value.retryable is False
