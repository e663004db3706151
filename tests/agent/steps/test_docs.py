"""docs/steps/pdf.md, word.md and data-documents.md document every step of their family, params tables up to date."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.steps.data import AGENT_DATA_STEPS
from agent.steps.pdf import PDF_STEPS
from agent.steps.word import WORD_STEPS
from shared.steps import definition_of
from shared.steps.builtin import DATA_EXTRA_STEPS
from tests.agent.steps.docs_tables import documented, render_page

DOCS = Path(__file__).resolve().parents[3] / "docs" / "steps"


PAGES = [
    ("pdf.md", PDF_STEPS),
    ("word.md", WORD_STEPS),
    ("data-documents.md", (*DATA_EXTRA_STEPS, *AGENT_DATA_STEPS)),
]


@pytest.mark.parametrize(("page", "steps"), PAGES)
def test_step_page_documents_every_step_with_current_params(page: str, steps: tuple[object, ...]) -> None:
    path = DOCS / page
    text = path.read_text(encoding="utf-8")
    assert documented(text) == {definition_of(s).name for s in steps}
    rendered = render_page(text, steps)
    if os.environ.get("RPA_UPDATE_DOCS") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert text == rendered, f"{path} is out of date: run RPA_UPDATE_DOCS=1 pytest {__file__}"
