"""The pages of `docs/steps/` for `http.*`, `db.*`, `vault.get` and `keyring.*` document every
step, and their params tables say what the params models say."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps.credentials import CREDENTIAL_STEPS
from agent.steps.db import DB_STEPS
from agent.steps.http import HTTP_STEPS
from shared.steps import StepRegistry, definition_of
from tests.agent.steps.docs_tables import BLOCK, render_page

DOCS = Path(__file__).resolve().parents[3] / "docs" / "steps"
PAGES = {"http.md": HTTP_STEPS, "db.md": DB_STEPS, "credentials.md": CREDENTIAL_STEPS}
ENDS = {"db.rollback"}
"""Steps whose params are the same model as a documented one (db.rollback shares db.commit's)."""


@pytest.mark.parametrize("page", sorted(PAGES))
def test_params_tables_are_up_to_date(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    registry = StepRegistry(PAGES[page])
    assert text == render_page(text, registry), (
        f"docs/steps/{page} is out of date: python -m tests.agent.steps.docs_tables docs/steps/{page}"
    )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_step_is_documented(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    tabled = {m.group("name") for m in BLOCK.finditer(text)}
    names = {definition_of(s).name for s in PAGES[page]}
    assert names - ENDS <= tabled
    assert all(f"`{name}`" in text for name in names)
    assert f"({page})" in (DOCS / "README.md").read_text(encoding="utf-8")
