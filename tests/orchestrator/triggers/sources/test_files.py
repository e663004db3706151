"""The files source on a local folder (watchfiles), moto's S3 server and pyftpdlib: one event
per file, created / modified / deleted, globs, restarts without repeats, files that arrived while
stopped, and a file still being written not taken before it is stable."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.triggers.sources import SourceError
from orchestrator.triggers.sources.files import FilesSource, FilesSourceConfig
from tests.agent.steps.files.servers import FTP_PASSWORD, FTP_USER, FtpServer
from tests.orchestrator.triggers.sources._ctx import Harness
from tests.servers import S3_KEY, S3_REGION, S3_SECRET, free_port


async def _settle(harness: Harness, seconds: float = 0.6) -> None:
    """Give the source time to have seen what it should not take (a negative check)."""
    await asyncio.sleep(seconds)
    assert harness.task is not None
    assert not harness.task.done()


async def test_a_local_file_written_is_one_event_with_its_path_size_and_time(tmp_path: Path) -> None:
    harness = Harness()
    harness.start(FilesSource(), FilesSourceConfig(url=str(tmp_path), patterns=["*.csv"]))
    await harness.wait_status("watching")
    (tmp_path / "skip.txt").write_text("no")
    (tmp_path / "orders.csv").write_text("id\n1\n")

    (event,) = await harness.wait_events(1, within=5)
    await _settle(harness, 0.3)
    await harness.stop_run(within=3)
    path = str(tmp_path / "orders.csv")
    stat = (tmp_path / "orders.csv").stat()
    assert event.key == f"{path}|5|{stat.st_mtime_ns}"
    assert event.payload["change"] == "created"
    assert (event.payload["path"], event.payload["url"], event.payload["name"]) == (path, path, "orders.csv")
    assert event.payload["size"] == 5
    assert event.payload["mtime"].startswith(time.strftime("%Y-", time.gmtime()))
    assert len(harness.recorder.events) == 1


async def test_modified_and_deleted_when_asked(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    harness = Harness()
    config = FilesSourceConfig(url=str(tmp_path), events=["modified", "deleted"])
    harness.start(FilesSource(), config)
    await harness.wait_status("watching")
    (tmp_path / "b.txt").write_text("created: not asked for")
    (tmp_path / "a.txt").write_text("one two")
    await harness.wait_events(1)
    (tmp_path / "a.txt").unlink()
    await harness.wait_events(2)
    await harness.stop_run(within=3)
    assert [(p["change"], p["size"]) for p in harness.recorder.payloads] == [("modified", 7), ("deleted", 7)]
    assert harness.recorder.keys[1].startswith("deleted:")
    assert set(harness.cursor.state["files"]) == {str(tmp_path / "b.txt")}  # only files still there


async def test_a_restart_repeats_nothing_and_finds_what_happened_while_stopped(tmp_path: Path) -> None:
    harness = Harness()
    config = FilesSourceConfig(url=str(tmp_path), events=["created", "deleted"])
    harness.start(FilesSource(), config)
    await harness.wait_status("watching")
    (tmp_path / "1.pdf").write_bytes(b"1")
    (tmp_path / "2.pdf").write_bytes(b"22")
    await harness.wait_events(2)
    await harness.stop_run(within=3)

    (tmp_path / "3.pdf").write_bytes(b"333")
    (tmp_path / "1.pdf").unlink()
    harness.start(FilesSource(), config)
    await harness.wait_events(4)
    await _settle(harness)
    await harness.stop_run(within=3)

    changes = sorted((p["change"], p["path"].rsplit("/", 1)[-1]) for p in harness.recorder.payloads)
    assert changes == [("created", "1.pdf"), ("created", "2.pdf"), ("created", "3.pdf"), ("deleted", "1.pdf")]
    assert harness.recorder.repeats == []


async def test_existing_files_are_taken_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text("x")
    quiet = Harness()
    quiet.start(FilesSource(), FilesSourceConfig(url=str(tmp_path)))
    await quiet.wait_status("watching")
    await _settle(quiet)
    await quiet.stop_run()
    eager = Harness()
    eager.start(FilesSource(), FilesSourceConfig(url=str(tmp_path), process_existing=True))
    await eager.wait_events(1)
    await eager.stop_run()
    assert quiet.recorder.events == []
    assert eager.recorder.payloads[0]["name"] == "old.csv"


async def test_a_file_still_growing_is_taken_only_once_stable(tmp_path: Path) -> None:
    harness = Harness()
    harness.start(FilesSource(), FilesSourceConfig(url=str(tmp_path), stable_s=1.5))
    await harness.wait_status("watching")
    target = tmp_path / "big.bin"
    with target.open("wb") as handle:
        for _ in range(8):  # 1.6 s of writing, a chunk every 0.2 s: never 1.5 s unchanged
            handle.write(b"x" * 1000)
            handle.flush()
            await asyncio.sleep(0.2)
            assert harness.recorder.events == [], "taken while still being written"
    (event,) = await harness.wait_events(1, within=5)
    await harness.stop_run()
    assert event.payload["size"] == 8000


def test_the_config_refuses_unknown_fields_and_changes() -> None:
    with pytest.raises(ValueError, match="extra"):
        FilesSourceConfig(url="/tmp", password="x")
    with pytest.raises(ValueError, match="created"):
        FilesSourceConfig(url="/tmp", events=["renamed"])


@pytest.fixture
def bucket(s3_server: str) -> tuple[str, Any]:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_server, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET, region_name=S3_REGION
    )
    name = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client


def _s3_secrets(endpoint: str) -> dict[str, str]:
    return {
        "store.access_key_id": S3_KEY,
        "store.secret_access_key": S3_SECRET,
        "store.endpoint_url": endpoint,
        "store.region": S3_REGION,
    }


async def test_an_s3_prefix_is_polled_with_etag_keys_and_survives_a_restart(
    s3_server: str, bucket: tuple[str, Any]
) -> None:
    name, client = bucket
    harness = Harness(secrets=_s3_secrets(s3_server))
    config = FilesSourceConfig(
        url=f"s3://{name}/in", credential="store", poll_interval_s=0.2, patterns=["*.json"], events=["created"]
    )
    harness.start(FilesSource(), config)
    await harness.wait_status("polling every 0.2 s")
    client.put_object(Bucket=name, Key="in/a.json", Body=b"{}")
    client.put_object(Bucket=name, Key="in/a.txt", Body=b"no")
    client.put_object(Bucket=name, Key="other/b.json", Body=b"{}")
    (event,) = await harness.wait_events(1)
    await harness.stop_run()

    client.put_object(Bucket=name, Key="in/c.json", Body=b"[1]")
    harness.start(FilesSource(), config)
    await harness.wait_events(2)
    await _settle(harness)  # a few more polls
    await harness.stop_run()
    etag = client.head_object(Bucket=name, Key="in/a.json")["ETag"].strip('"')
    assert event.key == f"{name}/in/a.json|2|{etag}"
    assert (event.payload["url"], event.payload["etag"], event.payload["size"]) == (f"s3://{name}/in/a.json", etag, 2)
    assert [p["name"] for p in harness.recorder.payloads] == ["a.json", "c.json"]
    assert harness.recorder.repeats == []


async def test_an_ftp_folder_is_polled_and_a_growing_upload_waits(ftp_server: FtpServer) -> None:
    folder = ftp_server.home / f"in-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    harness = Harness(secrets={"ftp.username": FTP_USER, "ftp.password": FTP_PASSWORD})
    config = FilesSourceConfig(url=ftp_server.url(folder.name), credential="ftp", poll_interval_s=0.2, stable_s=1.2)
    harness.start(FilesSource(), config)
    await harness.wait_status("polling every 0.2 s")
    target = folder / "upload.csv"
    with target.open("wb") as handle:
        for _ in range(5):  # growing for 1 s, a chunk every 0.2 s
            handle.write(b"row\n" * 100)
            handle.flush()
            await asyncio.sleep(0.2)
            assert harness.recorder.events == []
    (event,) = await harness.wait_events(1, within=5)
    await harness.stop_run()
    assert event.payload["url"] == ftp_server.url(f"{folder.name}/upload.csv")
    assert event.payload["size"] == 2000

    harness.start(FilesSource(), config)  # a restart: nothing new
    await harness.wait_for(lambda: harness.statuses.count("polling every 0.2 s") >= 2, what="a second run")
    await _settle(harness)
    await harness.stop_run()
    assert len(harness.recorder.events) == 1
    assert harness.recorder.repeats == []


async def test_an_unreachable_ftp_server_ends_in_a_source_error_after_the_bound() -> None:
    harness = Harness(secrets={"ftp.username": FTP_USER, "ftp.password": FTP_PASSWORD})
    config = FilesSourceConfig(
        url=f"ftp://127.0.0.1:{free_port()}/in", credential="ftp", reconnect_initial_s=0.05, reconnect_attempts=2
    )
    with pytest.raises(SourceError, match="gave up after 2 failed attempts") as caught:
        await harness.start(FilesSource(), config)
    assert FTP_PASSWORD not in str(caught.value)
    assert harness.statuses[0].startswith("reconnecting in 0.05 s")


async def test_a_local_folder_can_be_polled_instead_of_watched(tmp_path: Path) -> None:
    harness = Harness()
    harness.start(FilesSource(), FilesSourceConfig(url=str(tmp_path), force_polling=True, poll_interval_s=0.2))
    await harness.wait_status("polling every 0.2 s")
    (tmp_path / "on-a-mount.txt").write_text("x")
    (event,) = await harness.wait_events(1)
    await harness.stop_run()
    assert event.payload["name"] == "on-a-mount.txt"
    assert not any(s.startswith("watching") for s in harness.statuses)


async def test_a_watched_folder_that_goes_away_ends_in_a_source_error(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    harness = Harness()
    harness.start(FilesSource(), FilesSourceConfig(url=str(folder), reconnect_initial_s=0.05, reconnect_attempts=3))
    await harness.wait_status("watching")
    folder.rmdir()
    with pytest.raises(SourceError, match="the folder does not exist"):
        await asyncio.wait_for(harness.task, 10)
    assert any(s.startswith("reconnecting in 0.05 s") for s in harness.statuses)


async def test_a_source_killed_mid_stream_loses_and_doubles_nothing(tmp_path: Path) -> None:
    harness = Harness()
    harness.start(FilesSource(), FilesSourceConfig(url=str(tmp_path)))
    await harness.wait_status("watching")
    for index in range(12):
        (tmp_path / f"{index}.csv").write_text("x" * index)
        await asyncio.sleep(0.03)
        if index == 5:
            await harness.wait_events(2)
            assert harness.task is not None
            harness.task.cancel()  # no stop, no clean-up: the process dies here
            await asyncio.gather(harness.task, return_exceptions=True)
    harness.start(FilesSource(), FilesSourceConfig(url=str(tmp_path)))
    await harness.wait_events(12)
    await _settle(harness, 0.3)
    await harness.stop_run()
    assert sorted(p["name"] for p in harness.recorder.payloads) == sorted(f"{i}.csv" for i in range(12))
    assert len(harness.recorder.repeats) <= 1
