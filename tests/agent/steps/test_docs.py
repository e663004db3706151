"""Every page of `docs/steps/` documents every step of its families, its params tables say what
the params models say, and the index links it.

Rewrite a page's tables with `python -m tests.agent.steps.docs_tables docs/steps/PAGE.md`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps.credentials import CREDENTIAL_STEPS
from agent.steps.data import AGENT_DATA_STEPS
from agent.steps.db import DB_STEPS
from agent.steps.files import FILES_STEPS
from agent.steps.http import HTTP_STEPS
from agent.steps.pdf import PDF_STEPS
from agent.steps.word import WORD_STEPS
from shared.steps import StepRegistry, definition_of
from shared.steps.builtin import DATA_EXTRA_STEPS
from tests.agent.steps.docs_tables import documented, render_page

DOCS = Path(__file__).resolve().parents[3] / "docs" / "steps"
PAGES: dict[str, tuple[object, ...]] = {
    "http.md": HTTP_STEPS,
    "db.md": DB_STEPS,
    "credentials.md": CREDENTIAL_STEPS,
    "files.md": FILES_STEPS,
    "pdf.md": PDF_STEPS,
    "word.md": WORD_STEPS,
    "data-documents.md": (*DATA_EXTRA_STEPS, *AGENT_DATA_STEPS),
}
SHARED_MODELS = {"db.rollback"}
"""Steps whose params are the same model as a documented one (db.rollback shares db.commit's)."""


@pytest.mark.parametrize("page", sorted(PAGES))
def test_params_tables_are_up_to_date(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert text == render_page(text, StepRegistry(PAGES[page])), (
        f"docs/steps/{page} is out of date: python -m tests.agent.steps.docs_tables docs/steps/{page}"
    )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_step_is_documented_and_the_page_is_linked(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    names = {definition_of(s).name for s in PAGES[page]}
    assert names - SHARED_MODELS <= documented(text)
    assert all(f"`{name}`" in text for name in names)
    assert f"({page})" in (DOCS / "README.md").read_text(encoding="utf-8")
