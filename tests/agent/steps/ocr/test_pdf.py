"""`ocr.read_pdf`: scanned pages rendered by pdfium, read in parallel processes, cancellable."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest

from agent.steps.ocr import read_pdf
from shared.errors import StepCancelled, StepError
from tests.agent.steps.ocr.rendering import char_accuracy, image_pdf, paragraph, rotated

pytestmark = pytest.mark.ocr


def page_lines(number: int) -> list[str]:
    return [f"Delivery note {number:03d} for order 55{number}0", f"Received {number * 3} boxes on 2026-12-0{number}"]


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """A 4-page image-only PDF (no text layer), page 3 tilted by 2 degrees."""
    pages = [paragraph(page_lines(n), 28) for n in range(1, 5)]
    pages[2] = rotated(pages[2], 2)
    return image_pdf(tmp_path_factory.mktemp("pdf") / "scan.pdf", pages)


def tesseract_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "tesseract" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:  # it ended between the listing and the look
            continue
    return found


async def test_parallel_pages_read_the_same_as_sequential(env, scan):
    parallel = await env.run(read_pdf, {"path": str(scan), "workers": 2, "dpi": 150})
    sequential = await env.run(read_pdf, {"path": str(scan), "workers": 1, "dpi": 150})
    assert parallel == sequential
    assert [p["page"] for p in parallel["pages"]] == [1, 2, 3, 4]
    assert parallel["page_count"] == 4
    for page in parallel["pages"]:
        expected = "\n".join(page_lines(page["page"]))
        assert char_accuracy(expected, page["text"]) >= 0.98, page
    assert parallel["pages"][2]["angle"] == pytest.approx(2, abs=0.25)
    assert parallel["text"] == "\n\f\n".join(p["text"] for p in parallel["pages"])
    assert tesseract_children() == []


async def test_page_selection_and_words(env, scan):
    result = await env.run(read_pdf, {"path": str(scan), "pages": "4,2-2", "dpi": 200, "include_words": True})
    assert [p["page"] for p in result["pages"]] == [4, 2]
    assert result["pages"][0]["confidence"] > 80
    assert "confidence" not in (await env.run(read_pdf, {"path": str(scan), "pages": "1"}))["pages"][0]
    words = result["pages"][0]["words"]
    assert words[0]["text"] == "Delivery"
    # Boxes in the 200 dpi rendering's pixels: the page is 28 px text drawn at 150 dpi.
    assert 30 < words[0]["height"] < 60


@pytest.mark.parametrize(
    ("pages", "message"),
    [("5", r"page 5 is past the end of the document \(4 pages\)"), ("2-9", "page 9 is past the end")],
)
async def test_pages_past_the_end_are_refused(env, scan, pages, message):
    with pytest.raises(StepError, match=message) as caught:
        await env.run(read_pdf, {"path": str(scan), "pages": pages})
    assert str(scan) in caught.value.message


def test_a_page_spec_that_does_not_parse_fails_validation():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'x' is not a page number or range"):
        read_pdf.__rpa_step__.params.model_validate({"path": "a.pdf", "pages": "1,x"})


async def test_a_file_that_is_not_a_pdf_is_named(env, tmp_path):
    fake = tmp_path / "fake.pdf"
    fake.write_text("hello")
    with pytest.raises(StepError, match=r"cannot open the PDF .*fake\.pdf") as caught:
        await env.run(read_pdf, {"path": str(fake)})
    assert not caught.value.retryable


@pytest.fixture(scope="module")
def long_scan(tmp_path_factory):
    """Six pages that take tesseract a while each (24 lines of 40 px text at 300 dpi)."""
    pages = [paragraph(page_lines(n) * 12, 40) for n in range(1, 7)]
    return image_pdf(tmp_path_factory.mktemp("long") / "long.pdf", pages, dpi=100)


async def test_pages_run_in_one_process_per_worker(env, long_scan):
    task = asyncio.create_task(env.run(read_pdf, {"path": str(long_scan), "pages": "1-3", "workers": 2}))
    most = 0
    while not task.done():
        most = max(most, len(tesseract_children()))
        await asyncio.sleep(0.01)
    assert [p["page"] for p in (await task)["pages"]] == [1, 2, 3]
    assert most == 2, f"{most} tesseract processes at the peak"


async def test_cancelling_kills_the_running_pages(env, long_scan, monkeypatch):
    monkeypatch.setenv("OMP_THREAD_LIMIT", "4")  # the children get 1 whatever the parent has
    path = long_scan
    task = asyncio.create_task(env.run(read_pdf, {"path": str(path), "dpi": 300, "workers": 2}))
    deadline = time.monotonic() + 30
    while not tesseract_children():
        assert time.monotonic() < deadline, "no tesseract process started"
        assert not task.done(), task
        await asyncio.sleep(0.02)
    assert tesseract_children()[0].environ()["OMP_THREAD_LIMIT"] == "1"
    env.cancel()
    with pytest.raises(StepCancelled):
        await asyncio.wait_for(task, 10)
    assert tesseract_children() == []


@pytest.fixture
async def locked(env, scan, tmp_path):
    """The scan encrypted (AES-256) by the `pdf.encrypt` step with the credential `scan.password`."""
    from agent.steps.pdf import encrypt

    output = tmp_path / "scan-locked.pdf"
    await env.run(encrypt, {"path": str(scan), "output": str(output), "user_password": "scan.password"})
    return output


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        (None, "is encrypted: name the credential holding its password in `password_credential`"),
        ("wrong.password", "the password from credential 'wrong.password' does not open the PDF "),
    ],
    ids=["no-password", "wrong-password"],
)
async def test_an_encrypted_pdf_without_its_password_is_a_clear_error(env, locked, credential, message):
    env.secrets["wrong.password"] = "not-the-one"
    params = {"path": str(locked), "pages": "1"} | ({"password_credential": credential} if credential else {})
    with pytest.raises(StepError) as refused:
        await env.run(read_pdf, params)
    assert refused.value.kind == "pdf_encrypted"
    assert not refused.value.retryable
    assert message in refused.value.message
    assert str(locked) in refused.value.message
    for secret in ("s3cret-pdf", "not-the-one"):
        assert secret not in repr(refused.value.to_dict())
        assert all(secret not in line for line in env.logs)


async def test_an_encrypted_pdf_reads_with_the_right_password(env, locked):
    result = await env.run(read_pdf, {"path": str(locked), "pages": "2", "password_credential": "scan.password"})
    assert result["page_count"] == 4
    assert char_accuracy(" ".join(page_lines(2)), result["text"]) >= 0.98
