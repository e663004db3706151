"""`pdf.*` and `word.read` read documents from storage URLs (SFTP and S3): the same result as from
the local file."""

from __future__ import annotations

from pathlib import Path

from agent.steps import pdf, word
from shared.steps import StepEnvironment
from tests.agent.steps.files.servers import SftpServer
from tests.agent.steps.pdf.documents import write_all
from tests.agent.steps.word.documents import plain_document


async def test_pdf_text_and_words_from_sftp_match_the_local_file(
    env: StepEnvironment, sftp_server: SftpServer, tmp_path: Path
) -> None:
    local = write_all(tmp_path)["text.pdf"]
    (sftp_server.home / "docs").mkdir(exist_ok=True)
    (sftp_server.home / "docs" / "text.pdf").write_bytes(local.read_bytes())
    url = sftp_server.url("/docs/text.pdf")
    remote = await env.run(pdf.read_text, {"path": url, "storage_credential": "sftp-test"})
    assert remote == await env.run(pdf.read_text, {"path": str(local)})
    info = await env.run(pdf.info, {"path": url, "storage_credential": "sftp-test"})
    assert info["pages"] == (await env.run(pdf.info, {"path": str(local)}))["pages"]


async def test_word_read_from_s3(env: StepEnvironment, bucket: str, tmp_path: Path) -> None:
    from agent.steps import files

    local = plain_document(tmp_path / "letter.docx")
    url = f"{bucket}/docs/letter.docx"
    await env.run(files.copy, {"source": str(local), "destination": url, "credential": "s3-test"})
    remote = await env.run(word.read, {"path": url, "storage_credential": "s3-test"})
    assert remote == await env.run(word.read, {"path": str(local)})
