"""pdf.* reading steps on generated documents with known content."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps import pdf
from shared.errors import BusinessError, StepError
from shared.steps import StepEnvironment
from tests.agent.steps.pdf.documents import INVOICE_ITEMS, PASSWORD, TEXT_PAGES, UNRULED_ROWS

Docs = dict[str, Path]


@pytest.fixture
def env(tmp_path: Path) -> StepEnvironment:
    return StepEnvironment(secrets={"statement": PASSWORD, "wrong": "not-it"}, artifacts_dir=tmp_path / "artifacts")


async def test_info_gives_page_count_metadata_and_sizes(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.info, {"path": str(docs["text.pdf"])})
    assert out["pages"] == 3
    assert out["metadata"]["Title"] == "Known text"
    assert out["metadata"]["Author"] == "RPA Suite tests"
    assert out["encrypted"] is False
    assert out["page_sizes"][0] == [595.28, 841.89]


async def test_read_text_gives_each_page_in_order(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_text, {"path": str(docs["text.pdf"])})
    assert [p["text"] for p in out["pages"]] == TEXT_PAGES
    assert out["text"] == "\n\f".join(TEXT_PAGES)
    assert out["scanned_pages"] == []
    assert out["hint"] is None


async def test_read_text_of_a_page_selection(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_text, {"path": str(docs["text.pdf"]), "pages": "3,1-2"})
    assert [p["page"] for p in out["pages"]] == [3, 1, 2]
    out = await env.run(pdf.read_text, {"path": str(docs["text.pdf"]), "pages": "2-"})
    assert [p["text"] for p in out["pages"]] == TEXT_PAGES[1:]


async def test_layout_text_keeps_columns_apart(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_text, {"path": str(docs["invoice.pdf"]), "pages": "2", "layout": True})
    line = next(li for li in out["text"].splitlines() if "A-101" in li)
    assert line.split() == ["A-101", "Lisbon", "120.00"]
    # columns 140 points apart stay apart by many spaces, not one
    assert "A-101" + " " * 10 in line


async def test_scanned_page_is_detected_and_pointed_to_ocr(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_text, {"path": str(docs["scanned.pdf"])})
    assert out["scanned_pages"] == [2]
    assert [p["scanned"] for p in out["pages"]] == [False, True]
    assert "ocr." in out["hint"]
    assert "pdf.render_page" in out["hint"]
    assert ("warning", out["hint"]) in env.logs
    layout = await env.run(pdf.read_text, {"path": str(docs["scanned.pdf"]), "layout": True})
    assert layout["scanned_pages"] == [2]


async def test_render_page_writes_a_png_of_the_requested_resolution(
    env: StepEnvironment, docs: Docs, tmp_path: Path
) -> None:
    from PIL import Image

    target = tmp_path / "page2.png"
    out = await env.run(
        pdf.render_page, {"path": str(docs["scanned.pdf"]), "page": 2, "dpi": 72, "output": str(target)}
    )
    # an A4 page is 595.28 x 841.89 points: one pixel per point at 72 dpi
    assert abs(out["width"] - 595.28) < 1
    assert abs(out["height"] - 841.89) < 1
    with Image.open(target) as image:
        assert image.size == (out["width"], out["height"])
        assert image.convert("L").getextrema()[0] < 50  # the dark letters of the scan are there


async def test_render_page_keeps_an_artifact_without_output(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.render_page, {"path": str(docs["text.pdf"]), "page": 1, "dpi": 50})
    assert out["path"] is None
    saved = env.artifacts_dir / env.execution_id / out["artifact"]
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert saved.name == "text-page1.png"


async def test_words_have_positions_from_the_top_left(env: StepEnvironment, docs: Docs) -> None:
    words = await env.run(pdf.words, {"path": str(docs["invoice.pdf"]), "pages": "1"})
    number = next(w for w in words if w["text"] == "INV-2026-0042")
    assert number["page"] == 1
    assert number["x0"] == pytest.approx(180)
    # drawn at y=750 from the bottom of an 841.89-point page, 11-point font
    assert number["bottom"] == pytest.approx(841.89 - 750, abs=3)


@pytest.mark.parametrize(
    ("anchor", "direction", "value"),
    [
        ("Invoice number", "right", "INV-2026-0042"),
        ("invoice NUMBER:", "right", "INV-2026-0042"),
        ("Date", "right", "2026-12-07"),
        ("Total", "below", "170.50 EUR"),
        ("170.50", "above", "Total"),
        ("INV-2026-0042", "left", "Invoice number:"),
    ],
)
async def test_find_near_reads_the_value_next_to_a_label(
    env: StepEnvironment, docs: Docs, anchor: str, direction: str, value: str
) -> None:
    out = await env.run(pdf.find_near, {"path": str(docs["invoice.pdf"]), "anchor": anchor, "direction": direction})
    assert out["value"] == value
    assert out["page"] == 1


async def test_find_near_stops_at_a_wide_gap_and_respects_max_distance(env: StepEnvironment, docs: Docs) -> None:
    # "Page 1 of 2" sits 125 points right of the number: not part of the value
    out = await env.run(pdf.find_near, {"path": str(docs["invoice.pdf"]), "anchor": "Invoice number"})
    assert "Page" not in out["value"]
    with pytest.raises(BusinessError, match=r"has no value right of it within 20 points") as err:
        await env.run(pdf.find_near, {"path": str(docs["invoice.pdf"]), "anchor": "Invoice number", "max_distance": 20})
    assert err.value.kind == "not_found"
    missing = await env.run(pdf.find_near, {"path": str(docs["invoice.pdf"]), "anchor": "IBAN", "required": False})
    assert missing == {"value": None, "found": False, "page": None, "anchor": None, "words": []}
    with pytest.raises(BusinessError, match=r"'invoice.pdf': the anchor 'IBAN' was not found"):
        await env.run(pdf.find_near, {"path": str(docs["invoice.pdf"]), "anchor": "IBAN"})


async def test_ruled_table_is_read_exactly(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_tables, {"path": str(docs["invoice.pdf"]), "pages": "1"})
    assert len(out["tables"]) == 1
    table = out["tables"][0]
    assert (table["page"], table["index"], table["columns"]) == (1, 0, ["Item", "Qty", "Price"])
    assert table["rows"] == INVOICE_ITEMS
    assert out["rows"] is None


async def test_unruled_table_is_read_from_text_alignment(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_tables, {"path": str(docs["invoice.pdf"]), "pages": "2", "strategy": "unruled"})
    assert out["tables"][0]["rows"] == UNRULED_ROWS
    ruled = await env.run(pdf.read_tables, {"path": str(docs["invoice.pdf"]), "pages": "2"})
    assert ruled["tables"] == []  # no lines on that page: the ruled strategy finds nothing


async def test_tables_without_header_are_numbered_columns(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_tables, {"path": str(docs["invoice.pdf"]), "pages": "1", "header": False})
    assert out["tables"][0]["rows"][0] == {"column_1": "Item", "column_2": "Qty", "column_3": "Price"}


async def test_tables_of_a_long_document_over_a_process_pool_equal_the_serial_read(
    env: StepEnvironment, docs: Docs
) -> None:
    serial = await env.run(pdf.read_tables, {"path": str(docs["long.pdf"]), "workers": 1, "merge": True})
    pooled = await env.run(pdf.read_tables, {"path": str(docs["long.pdf"]), "workers": 2, "merge": True})
    assert pooled == serial
    assert [t["page"] for t in pooled["tables"]] == list(range(1, 31))
    assert len(pooled["rows"]) == 30 * 6
    assert pooled["rows"][0] == {"Row": "1-1", "Qty": "1", "Price": "2.25"}
    assert pooled["rows"][-1] == {"Row": "30-6", "Qty": "180", "Price": "37.50"}


async def test_automatic_workers_hand_the_rest_of_a_long_document_to_the_pool(
    env: StepEnvironment, docs: Docs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.steps.pdf import _tables

    serial = await env.run(pdf.read_tables, {"path": str(docs["long.pdf"]), "workers": 1})
    started: list[int] = []
    real_pool = _tables._in_pool

    def spy(*args: object) -> object:
        started.append(len(args[2]))  # type: ignore[arg-type]
        return real_pool(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_tables, "_in_pool", spy)
    monkeypatch.setattr(_tables.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(_tables, "POOL_MIN_SECONDS", 0.0)  # any left-over work is worth a pool
    pooled = await env.run(pdf.read_tables, {"path": str(docs["long.pdf"])})
    assert started == [30 - _tables.PROBE_PAGES]
    assert pooled == serial
    monkeypatch.setattr(_tables, "POOL_MIN_SECONDS", 1e9)  # no work is
    started.clear()
    assert await env.run(pdf.read_tables, {"path": str(docs["long.pdf"])}) == serial
    assert started == []


def test_unknown_table_settings_are_refused_before_a_run() -> None:
    with pytest.raises(ValueError, match=r"unknown table setting"):
        pdf.read_tables.__rpa_step__.params.model_validate({"path": "a.pdf", "table_settings": {"snap": 1}})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="vertical_strategy 'explicit' needs the positions in explicit_vertical_lines"):
        pdf.read_tables.__rpa_step__.params.model_validate(  # type: ignore[attr-defined]
            {"path": "a.pdf", "table_settings": {"vertical_strategy": "explicit"}}
        )
    with pytest.raises(ValueError, match="vertical_strategy must be one of"):
        pdf.read_tables.__rpa_step__.params.model_validate(  # type: ignore[attr-defined]
            {"path": "a.pdf", "table_settings": {"vertical_strategy": "ruled"}}
        )
    ok = pdf.read_tables.__rpa_step__.params.model_validate(  # type: ignore[attr-defined]
        {"path": "a.pdf", "table_settings": {"snap_tolerance": 4, "text_x_tolerance": 2}}
    )
    assert ok.table_settings["snap_tolerance"] == 4


def test_a_worker_that_fails_on_a_page_names_that_page(docs: Docs) -> None:
    from agent.steps.pdf._tables import PageFailed, extract_range

    # explicit lines without any line given (refused by validation; here past it): pdfplumber fails
    settings = {"vertical_strategy": "explicit", "horizontal_strategy": "lines"}
    with pytest.raises(PageFailed) as err:
        extract_range(str(docs["long.pdf"]), None, [7, 8], settings)
    assert err.value.page == 7
    assert err.value.reason.startswith("TypeError")


async def test_encrypted_document_opens_with_the_credential(env: StepEnvironment, docs: Docs) -> None:
    out = await env.run(pdf.read_text, {"path": str(docs["encrypted.pdf"]), "password": "statement"})
    assert [p["text"] for p in out["pages"]] == TEXT_PAGES
    info = await env.run(pdf.info, {"path": str(docs["encrypted.pdf"]), "password": "statement"})
    assert info["encrypted"] is True
    tables = await env.run(pdf.words, {"path": str(docs["encrypted.pdf"]), "password": "statement", "pages": "1"})
    assert tables[0]["text"] == "First"


@pytest.mark.parametrize("step_fn", [pdf.read_text, pdf.words, pdf.read_form, pdf.info])
async def test_an_encrypted_document_without_or_with_a_wrong_password_is_a_clear_error(
    env: StepEnvironment, docs: Docs, step_fn: object
) -> None:
    with pytest.raises(StepError, match=r"'encrypted.pdf' is encrypted: name the credential") as err:
        await env.run(step_fn, {"path": str(docs["encrypted.pdf"])})  # type: ignore[arg-type]
    assert (err.value.kind, err.value.retryable) == ("pdf_encrypted", False)
    with pytest.raises(StepError, match=r"credential 'wrong' does not open 'encrypted.pdf'") as err:
        await env.run(step_fn, {"path": str(docs["encrypted.pdf"]), "password": "wrong"})  # type: ignore[arg-type]
    assert PASSWORD not in str(err.value)
    assert "not-it" not in str(err.value)


@pytest.mark.parametrize("step_fn", [pdf.read_text, pdf.read_tables, pdf.read_form, pdf.render_page, pdf.find_near])
async def test_a_damaged_file_is_a_clear_error_naming_it(env: StepEnvironment, docs: Docs, step_fn: object) -> None:
    params = {"path": str(docs["damaged.pdf"])}
    if step_fn is pdf.find_near:
        params["anchor"] = "x"
    with pytest.raises(StepError, match=r"'damaged.pdf' is not a readable PDF") as err:
        await env.run(step_fn, params)  # type: ignore[arg-type]
    assert (err.value.kind, err.value.retryable) == ("pdf_damaged", False)


async def test_a_page_out_of_range_names_the_file_and_page(env: StepEnvironment, docs: Docs) -> None:
    for step_fn, params in [
        (pdf.read_text, {"pages": "2-9"}),
        (pdf.read_tables, {"pages": "4"}),
        (pdf.render_page, {"page": 7}),
        (pdf.words, {"pages": "5-"}),
    ]:
        with pytest.raises(BusinessError, match=r"'text.pdf' has 3 page") as err:
            await env.run(step_fn, {"path": str(docs["text.pdf"]), **params})
        assert err.value.kind == "page_out_of_range"


async def test_a_missing_file_and_a_bad_selection(env: StepEnvironment, tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"no PDF file at") as err:
        await env.run(pdf.read_text, {"path": str(tmp_path / "nope.pdf")})
    assert err.value.kind == "file_not_found"
    with pytest.raises(StepError, match=r"is not a page selection") as err:
        await env.run(pdf.read_text, {"path": "x.pdf", "pages": "1-x"})
    assert err.value.kind == "validation"
    with pytest.raises(StepError, match=r"numbered from 1"):
        await env.run(pdf.read_text, {"path": "x.pdf", "pages": "0-2"})
