"""word.* steps on generated documents; LibreOffice for the real conversion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.steps import pdf, word
from shared.errors import BusinessError, MissingDependency, StepError
from shared.steps import StepEnvironment
from tests.agent.steps.word.documents import letter_template, plain_document

ITEMS = [{"Item": "Paper A4", "Qty": 10, "Price": "4.50"}, {"Item": "Stapler", "Qty": 1, "Price": "12.25"}]
VALUES = {
    "company": "ACME",
    "customer": {"name": "Ann Lee"},
    "order": "A-17",
    "items": ITEMS,
    "total": "57.25",
    "sender": "Bo",
}


@pytest.fixture
def env(tmp_path: Path) -> StepEnvironment:
    return StepEnvironment(artifacts_dir=tmp_path / "artifacts")


async def test_read_gives_text_and_tables(env: StepEnvironment, tmp_path: Path) -> None:
    out = await env.run(word.read, {"path": str(plain_document(tmp_path / "r.docx"))})
    assert out["paragraphs"] == ["Quarterly report", "All figures in EUR."]
    assert out["tables"] == [[{"Region": "North", "Sales": "120"}, {"Region": "South", "Sales": "95"}]]
    raw = await env.run(word.read, {"path": str(tmp_path / "r.docx"), "header": False})
    assert raw["tables"][0][0] == {"column_1": "Region", "column_2": "Sales"}


async def test_fill_template_replaces_split_placeholders_and_repeats_rows(env: StepEnvironment, tmp_path: Path) -> None:
    import docx

    template = letter_template(tmp_path / "letter.docx")
    target = tmp_path / "out" / "letter-A-17.docx"
    out = await env.run(word.fill_template, {"template": str(template), "values": VALUES, "output": str(target)})
    assert out["rows"] == 2
    read = await env.run(word.read, {"path": str(target)})
    assert read["paragraphs"][0] == "Dear Ann Lee, your order A-17 is ready."
    assert read["paragraphs"][1] == "Kind regards,\nBo"
    assert read["tables"][0] == [
        {"Item": "Paper A4", "Qty": "10", "Price": "4.50"},
        {"Item": "Stapler", "Qty": "1", "Price": "12.25"},
        {"Item": "Total", "Qty": "", "Price": "57.25"},
    ]
    document = docx.Document(str(target))
    assert document.sections[0].header.paragraphs[0].text == "ACME - customer letter"
    # the name keeps the bold of the run the placeholder started in... and only the name is bold
    runs = document.paragraphs[0].runs
    assert [(r.text, bool(r.bold)) for r in runs] == [
        ("Dear Ann Lee", False),
        ("", True),
        (", your order A-17 is ready.", False),
    ]
    assert template.read_bytes() != target.read_bytes()


async def test_an_empty_list_removes_the_repeated_row(env: StepEnvironment, tmp_path: Path) -> None:
    template = letter_template(tmp_path / "letter.docx")
    target = tmp_path / "empty.docx"
    await env.run(
        word.fill_template, {"template": str(template), "values": {**VALUES, "items": []}, "output": str(target)}
    )
    read = await env.run(word.read, {"path": str(target)})
    assert read["tables"][0] == [{"Item": "Total", "Qty": "", "Price": "57.25"}]


async def test_missing_values_are_named_or_left_as_asked(env: StepEnvironment, tmp_path: Path) -> None:
    template = letter_template(tmp_path / "letter.docx")
    values = {k: v for k, v in VALUES.items() if k not in ("sender", "customer")}
    with pytest.raises(BusinessError, match=r"placeholder\(s\) without a value: \['customer.name', 'sender'\]"):
        await env.run(
            word.fill_template, {"template": str(template), "values": values, "output": str(tmp_path / "a.docx")}
        )
    assert not (tmp_path / "a.docx").exists()
    await env.run(
        word.fill_template,
        {"template": str(template), "values": values, "output": str(tmp_path / "k.docx"), "missing": "keep"},
    )
    kept = await env.run(word.read, {"path": str(tmp_path / "k.docx")})
    assert kept["paragraphs"][1] == "Kind regards,\n{{ sender }}"


async def test_a_damaged_or_missing_document_is_a_clear_error(env: StepEnvironment, tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(StepError, match=r"'bad\.docx' is not a readable Word document") as err:
        await env.run(word.read, {"path": str(bad)})
    assert err.value.kind == "docx_damaged"
    with pytest.raises(StepError, match="no Word file at") as err:
        await env.run(word.read, {"path": str(tmp_path / "none.docx")})
    assert err.value.kind == "file_not_found"


async def test_to_pdf_without_libreoffice_names_the_package(
    env: StepEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    source = plain_document(tmp_path / "p.docx")
    with pytest.raises(MissingDependency, match="install the system package 'libreoffice-writer'") as err:
        await env.run(word.to_pdf, {"path": str(source)})
    assert err.value.retryable is False


@pytest.mark.slow
async def test_to_pdf_converts_with_libreoffice(env: StepEnvironment, tmp_path: Path) -> None:
    assert shutil.which("soffice"), "LibreOffice is missing: installer/system-deps.sh installs libreoffice-writer-nogui"
    template = letter_template(tmp_path / "letter.docx")
    filled = tmp_path / "filled.docx"
    await env.run(word.fill_template, {"template": str(template), "values": VALUES, "output": str(filled)})
    out = await env.run(word.to_pdf, {"path": str(filled), "timeout_s": 90})
    assert out["path"] == str(tmp_path / "filled.pdf")
    text = await env.run(pdf.read_text, {"path": out["path"]})
    assert "Dear Ann Lee, your order A-17 is ready." in text["text"]
    assert "Stapler" in text["text"]


async def test_a_relative_template_is_an_asset_read_from_the_flows_folder(tmp_path: Path) -> None:
    from shared.flow import find_assets
    from shared.steps import StepRegistry

    folder = tmp_path / "flows" / "exec-1"
    (folder / "templates").mkdir(parents=True)
    letter_template(folder / "templates" / "letter.docx")
    env = StepEnvironment(artifacts_dir=tmp_path / "artifacts", flow_dir=folder)
    target = tmp_path / "out.docx"
    out = await env.run(
        word.fill_template, {"template": "templates/letter.docx", "values": VALUES, "output": str(target)}
    )
    assert out["rows"] == 2
    flow = {
        "schema": "rpa.flow/1",
        "name": "Letter",
        "nodes": [{"id": "fill", "type": "word.fill_template", "params": {"template": "templates/letter.docx"}}],
    }
    assert list(find_assets(flow, StepRegistry.default())) == ["templates/letter.docx"]
