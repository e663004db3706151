"""Every page of `docs/steps/` documents every step of its families in a section of its own, its
params tables say what the params models say, and the index links it.

Rewrite the tables with `python -m tests.agent.steps.docs_tables docs/steps/*.md docs/steps.md`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from agent.steps.ai import AI_STEPS
from agent.steps.browser import BROWSER_STEPS, Anchor, Fingerprint, TargetSpec
from agent.steps.credentials import CREDENTIAL_STEPS
from agent.steps.data import AGENT_DATA_STEPS
from agent.steps.db import DB_STEPS
from agent.steps.desktop import DESKTOP_STEPS
from agent.steps.dialog import DIALOG_STEPS
from agent.steps.email import EMAIL_STEPS
from agent.steps.excel import CSV_STEPS, EXCEL_STEPS
from agent.steps.files import FILES_STEPS
from agent.steps.http import HTTP_STEPS
from agent.steps.ocr import OCR_STEPS
from agent.steps.pdf import PDF_STEPS
from agent.steps.word import WORD_STEPS
from shared.steps import StepRegistry, definition_of
from shared.steps.builtin import DATA_EXTRA_STEPS, TABLE_STEPS
from tests.agent.steps.docs_tables import documented, render_page

DOCS = Path(__file__).resolve().parents[3] / "docs" / "steps"
TARGET_STEPS = {"browser.solve_captcha", "browser.healing", "browser.describe_element"}
"""The browser steps documented with the targets they work on, in browser-targets.md."""

PAGES: dict[str, tuple[object, ...]] = {
    "http.md": HTTP_STEPS,
    "db.md": DB_STEPS,
    "credentials.md": CREDENTIAL_STEPS,
    "files.md": FILES_STEPS,
    "pdf.md": PDF_STEPS,
    "word.md": WORD_STEPS,
    "data-documents.md": (*DATA_EXTRA_STEPS, *AGENT_DATA_STEPS),
    "desktop.md": DESKTOP_STEPS,
    "browser.md": tuple(s for s in BROWSER_STEPS if definition_of(s).name not in TARGET_STEPS),
    "browser-targets.md": tuple(s for s in BROWSER_STEPS if definition_of(s).name in TARGET_STEPS),
    "email.md": EMAIL_STEPS,
    "excel.md": (*EXCEL_STEPS, *CSV_STEPS),
    "tables.md": TABLE_STEPS,
    "ocr.md": OCR_STEPS,
    "ai.md": AI_STEPS,
    "dialog.md": DIALOG_STEPS,
}
MODELS: dict[str, dict[str, type[BaseModel]]] = {
    "browser-targets.md": {"TargetSpec": TargetSpec, "Anchor": Anchor, "Fingerprint": Fingerprint},
}
"""Models that are not a step's params but have a table of their own (what several steps take)."""
SHARED_MODELS = {"db.rollback"}
"""Steps whose params are the same model as a documented one (db.rollback shares db.commit's)."""
BUILTINS_PAGE = DOCS.parent / "steps.md"
"""The built-ins page: its sections are checked by tests/cli/test_local_commands.py, its tables here."""


@pytest.mark.parametrize("page", sorted(PAGES))
def test_params_tables_are_up_to_date(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert text == render_page(text, StepRegistry(PAGES[page]), MODELS.get(page)), (
        f"docs/steps/{page} is out of date: python -m tests.agent.steps.docs_tables docs/steps/{page}"
    )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_step_has_a_section_with_its_table_and_the_page_is_linked(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    names = {definition_of(s).name for s in PAGES[page]}
    assert names - SHARED_MODELS <= documented(text)
    assert documented(text) <= names | set(MODELS.get(page, {})), "a block names no step of the page"
    for name in names:
        found = re.search(rf"^##+ [^\n]*`{re.escape(name)}`[^\n]*\n(?P<section>.*?)(?=^#|\Z)", text, re.M | re.S)
        assert found, f"docs/steps/{page}: no section headed `{name}`"
        if name not in SHARED_MODELS:
            assert f"<!-- params: {name} -->" in found.group("section"), f"{page}: {name}'s table is elsewhere"
    assert f"({page})" in (DOCS / "README.md").read_text(encoding="utf-8")


def test_every_page_is_checked() -> None:
    assert {p.name for p in DOCS.glob("*.md")} - {"README.md"} == set(PAGES)


def test_the_builtins_page_tables_are_up_to_date() -> None:
    text = BUILTINS_PAGE.read_text(encoding="utf-8")
    assert {definition_of(s).name for s in TABLE_STEPS} <= documented(text)
    assert text == render_page(text), (
        "docs/steps.md is out of date: python -m tests.agent.steps.docs_tables docs/steps.md"
    )
