"""pdf.* steps that write documents: forms, merge, split, extract, rotate, encrypt, decrypt.

Each result is read back with another library (pypdfium2 or pdfplumber) than the one that wrote it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps import pdf
from shared.errors import BusinessError, StepError
from shared.steps import StepEnvironment
from tests.agent.steps.pdf.documents import PASSWORD, TEXT_PAGES

Docs = dict[str, Path]


@pytest.fixture
def env(tmp_path: Path) -> StepEnvironment:
    return StepEnvironment(secrets={"statement": PASSWORD, "new_pdf.password": "n3w-Pass!"}, artifacts_dir=tmp_path)


async def _texts(env: StepEnvironment, path: Path, password: str | None = None) -> list[str]:
    out = await env.run(pdf.read_text, {"path": str(path), "password": password})
    return [p["text"] for p in out["pages"]]


async def test_fill_form_sets_text_checkbox_and_choice(env: StepEnvironment, docs: Docs, tmp_path: Path) -> None:
    target = tmp_path / "filled.pdf"
    values = {"name": "Ann Lee", "agree": True, "country": "FR"}
    out = await env.run(pdf.fill_form, {"path": str(docs["form.pdf"]), "values": values, "output": str(target)})
    assert out["filled"] == ["agree", "country", "name"]
    read = await env.run(pdf.read_form, {"path": str(target)})
    assert read["values"] == {"name": "Ann Lee", "city": "Lisbon", "agree": "Yes", "country": "FR"}
    unchecked = tmp_path / "unchecked.pdf"
    await env.run(pdf.fill_form, {"path": str(target), "values": {"agree": False}, "output": str(unchecked)})
    assert (await env.run(pdf.read_form, {"path": str(unchecked)}))["values"]["agree"] == "Off"


async def test_flattened_form_shows_the_values_as_page_text(env: StepEnvironment, docs: Docs, tmp_path: Path) -> None:
    target = tmp_path / "flat.pdf"
    await env.run(
        pdf.fill_form,
        {"path": str(docs["form.pdf"]), "values": {"name": "Zed Quill"}, "output": str(target), "flatten": True},
    )
    words = await env.run(pdf.words, {"path": str(target)})
    assert "Zed" in [w["text"] for w in words]


async def test_fill_form_names_unknown_fields_and_lists_the_real_ones(
    env: StepEnvironment, docs: Docs, tmp_path: Path
) -> None:
    with pytest.raises(BusinessError, match=r"no form field\(s\) \['nmae'\]; its fields are \['agree', 'city'"):
        await env.run(
            pdf.fill_form, {"path": str(docs["form.pdf"]), "values": {"nmae": "x"}, "output": str(tmp_path / "o.pdf")}
        )
    assert not (tmp_path / "o.pdf").exists()


async def test_merge_extract_split_and_rotate(env: StepEnvironment, docs: Docs, tmp_path: Path) -> None:
    merged = tmp_path / "merged.pdf"
    files = [str(docs["text.pdf"]), str(docs["encrypted.pdf"])]
    params = {"files": files, "passwords": {files[1]: "statement"}, "output": str(merged)}
    out = await env.run(pdf.merge, params)
    assert out["pages"] == 6
    assert await _texts(env, merged) == TEXT_PAGES * 2

    picked = tmp_path / "picked.pdf"
    await env.run(pdf.extract_pages, {"path": str(merged), "pages": "5,1", "output": str(picked)})
    assert await _texts(env, picked) == [TEXT_PAGES[1], TEXT_PAGES[0]]

    parts = await env.run(pdf.split, {"path": str(merged), "output_dir": str(tmp_path / "parts"), "every": 4})
    assert [(p["first_page"], p["last_page"], p["pages"]) for p in parts] == [(1, 4, 4), (5, 6, 2)]
    assert await _texts(env, Path(parts[1]["path"])) == TEXT_PAGES[1:]
    ranged = await env.run(
        pdf.split, {"path": str(merged), "output_dir": str(tmp_path / "ranged"), "ranges": ["2", "3-"]}
    )
    assert [Path(p["path"]).name for p in ranged] == ["merged-2.pdf", "merged-3.pdf"]

    turned = tmp_path / "turned.pdf"
    await env.run(pdf.rotate, {"path": str(docs["text.pdf"]), "pages": "2", "angle": 90, "output": str(turned)})
    info = await env.run(pdf.info, {"path": str(turned)})
    assert info["page_sizes"] == [[595.28, 841.89], [841.89, 595.28], [595.28, 841.89]]


async def test_set_metadata_changes_removes_and_keeps_entries(env: StepEnvironment, docs: Docs, tmp_path: Path) -> None:
    target = tmp_path / "meta.pdf"
    changes = {"Title": "Q4 report", "Keywords": "rpa, pdf", "Author": None}
    await env.run(pdf.set_metadata, {"path": str(docs["text.pdf"]), "output": str(target), "metadata": changes})
    metadata = (await env.run(pdf.info, {"path": str(target)}))["metadata"]
    assert metadata["Title"] == "Q4 report"
    assert metadata["Keywords"] == "rpa, pdf"
    assert "Author" not in metadata
    assert metadata["Producer"].startswith("ReportLab")  # untouched entries stay
    assert await _texts(env, target) == TEXT_PAGES


async def test_a_cancelled_execution_stops_reading(env: StepEnvironment, docs: Docs) -> None:
    from shared.errors import StepCancelled

    env.cancel()
    with pytest.raises(StepCancelled):
        await env.run(pdf.read_text, {"path": str(docs["text.pdf"])})
    with pytest.raises(StepCancelled):
        await env.run(pdf.read_tables, {"path": str(docs["long.pdf"]), "workers": 2})


async def test_outputs_are_not_replaced_unless_asked(env: StepEnvironment, docs: Docs, tmp_path: Path) -> None:
    target = tmp_path / "one.pdf"
    target.write_bytes(b"keep me")
    params = {"path": str(docs["text.pdf"]), "pages": "1", "output": str(target)}
    with pytest.raises(BusinessError, match=r"already exists: set `overwrite`"):
        await env.run(pdf.extract_pages, params)
    assert target.read_bytes() == b"keep me"
    await env.run(pdf.extract_pages, {**params, "overwrite": True})
    assert await _texts(env, target) == TEXT_PAGES[:1]


async def test_encrypt_then_decrypt_with_passwords_from_credentials(
    env: StepEnvironment, docs: Docs, tmp_path: Path
) -> None:
    locked = tmp_path / "locked.pdf"
    await env.run(
        pdf.encrypt, {"path": str(docs["text.pdf"]), "output": str(locked), "user_password": "new_pdf.password"}
    )
    assert b"n3w-Pass!" not in locked.read_bytes()
    with pytest.raises(StepError, match=r"'locked.pdf' is encrypted"):
        await _texts(env, locked)
    assert await _texts(env, locked, password="new_pdf.password") == TEXT_PAGES
    # AES-256 (V5/R6) is what pypdf wrote
    from pypdf import PdfReader

    assert PdfReader(locked).trailer["/Encrypt"]["/V"] == 5

    opened = tmp_path / "opened.pdf"
    await env.run(pdf.decrypt, {"path": str(locked), "password": "new_pdf.password", "output": str(opened)})
    assert await _texts(env, opened) == TEXT_PAGES
    assert (await env.run(pdf.info, {"path": str(opened)}))["encrypted"] is False
    with pytest.raises(BusinessError, match=r"'opened.pdf' is not encrypted"):
        await env.run(
            pdf.decrypt, {"path": str(opened), "password": "new_pdf.password", "output": str(tmp_path / "x.pdf")}
        )
    with pytest.raises(StepError, match=r"no credential or secret named 'missing'") as err:
        await env.run(
            pdf.encrypt, {"path": str(docs["text.pdf"]), "output": str(tmp_path / "y.pdf"), "user_password": "missing"}
        )
    assert err.value.kind == "credential"


async def test_page_operations_on_a_damaged_or_encrypted_file(env: StepEnvironment, docs: Docs, tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"'damaged.pdf' is not a readable PDF") as err:
        await env.run(pdf.split, {"path": str(docs["damaged.pdf"]), "output_dir": str(tmp_path)})
    assert err.value.kind == "pdf_damaged"
    with pytest.raises(StepError, match=r"'encrypted.pdf' is encrypted") as err:
        await env.run(pdf.merge, {"files": [str(docs["encrypted.pdf"])], "output": str(tmp_path / "m.pdf")})
    assert err.value.kind == "pdf_encrypted"
    with pytest.raises(BusinessError, match=r"'text.pdf' has 3 page\(s\): page 4 is out of range"):
        await env.run(
            pdf.extract_pages, {"path": str(docs["text.pdf"]), "pages": "4", "output": str(tmp_path / "e.pdf")}
        )
