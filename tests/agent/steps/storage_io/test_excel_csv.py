"""`excel.*` and `csv.*` on storage URLs: one round trip each on S3 and SFTP, errors naming the URL;
and a write to S3 that fails half-way leaves neither an object nor an open upload."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from agent.steps import _storage_io as storage_io
from agent.steps import excel, files
from shared.errors import StepError
from shared.steps import StepEnvironment, step
from tests.agent.steps.files.servers import SftpServer

TABLE = [{"name": "Ann", "amount": 12.5, "due": "2026-12-07"}, {"name": "Bob", "amount": 3, "due": "2026-12-08"}]


async def test_excel_round_trip_on_s3(env: StepEnvironment, bucket: str) -> None:
    url = f"{bucket}/books/orders.xlsx"
    s3 = {"storage_credential": "s3-test"}
    written = await env.run(excel.excel_write, {"path": url, "table": TABLE, "sheet": "Orders", **s3})
    assert written["path"] == url
    await env.run(excel.excel_create_sheet, {"path": url, "name": "Summary", **s3})
    await env.run(excel.excel_set_cells, {"path": url, "sheet": "Summary", "values": {"A1": "total"}, **s3})
    assert await env.run(excel.excel_sheets, {"path": url, **s3}) == ["Orders", "Summary"]
    assert await env.run(excel.excel_read, {"path": url, "sheet": "Orders", **s3}) == TABLE
    assert await env.run(excel.excel_get_cell, {"path": url, "sheet": "Summary", "cell": "A1", **s3}) == "total"


async def test_csv_round_trip_on_sftp_with_append(env: StepEnvironment, sftp_server: SftpServer) -> None:
    url = sftp_server.url("/exports/orders.csv")
    sftp = {"storage_credential": "sftp-test"}
    first = await env.run(excel.csv_write, {"path": url, "table": TABLE[:1], **sftp})
    assert first == {"path": url, "rows": 1}
    await env.run(excel.csv_write, {"path": url, "table": TABLE[1:], "mode": "append", **sftp})
    assert (sftp_server.home / "exports" / "orders.csv").read_bytes() == (
        b"name,amount,due\r\nAnn,12.5,2026-12-07\r\nBob,3,2026-12-08\r\n"
    )
    assert await env.run(excel.csv_read, {"path": url, **sftp}) == TABLE
    assert not list((sftp_server.home / "exports").glob(".*"))  # no part file left behind


async def test_errors_name_the_url_not_the_local_copy(env: StepEnvironment, bucket: str) -> None:
    url = f"{bucket}/books/two.xlsx"
    s3 = {"storage_credential": "s3-test"}
    await env.run(excel.excel_write, {"path": url, "table": TABLE, "sheet": "Orders", **s3})
    with pytest.raises(StepError) as wrong_sheet:
        await env.run(excel.excel_read, {"path": url, "sheet": "Nope", **s3})
    assert wrong_sheet.value.kind == "sheet_not_found"
    assert "'Orders'" in wrong_sheet.value.message
    with pytest.raises(StepError) as missing:
        await env.run(excel.excel_read, {"path": f"{bucket}/books/none.xlsx", **s3})
    assert missing.value.kind == "file_not_found"
    assert missing.value.message == f"{bucket}/books/none.xlsx does not exist"


async def test_a_failed_change_leaves_the_stored_workbook_as_it_was(env: StepEnvironment, bucket: str) -> None:
    url = f"{bucket}/books/keep.xlsx"
    s3 = {"storage_credential": "s3-test"}
    await env.run(excel.excel_write, {"path": url, "table": TABLE, "sheet": "Orders", **s3})
    with pytest.raises(StepError):
        await env.run(excel.excel_rename_sheet, {"path": url, "name": "Missing", "new_name": "X", **s3})
    assert await env.run(excel.excel_sheets, {"path": url, **s3}) == ["Orders"]


class _WriteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str


@step("test.failed_write", params=_WriteParams, output="never")
def _failed_write(params: _WriteParams) -> None:
    with storage_io.open_for_write(params.url, "s3-test") as writer:
        writer.write(b"x" * (9 * 2**20))  # past one 8 MiB part: a multipart upload is under way
        raise RuntimeError("the source broke")


async def test_a_failed_write_to_s3_aborts_its_upload(
    env: StepEnvironment, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    calls: list[str] = []
    original = s3fs.S3FileSystem._call_s3

    async def recording(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return await original(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", recording)
    url = f"{bucket}/broken/half.bin"
    with pytest.raises(RuntimeError, match="the source broke"):
        await env.run(_failed_write, {"url": url})
    # Aborted, never completed (completing then deleting would show the half object meanwhile).
    assert "abort_multipart_upload" in calls
    assert "complete_multipart_upload" not in calls
    assert not await env.run(files.exists, {"path": url, "credential": "s3-test"})
    fs = env.resources.get("files:s3:s3-test").fs
    assert [u["Key"] for u in fs.list_multipart_uploads(bucket.removeprefix("s3://"))] == []
