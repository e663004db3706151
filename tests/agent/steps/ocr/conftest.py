"""Fixtures of the OCR tests: a step environment per test, tesseract required (never skipped)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from shared.steps import StepEnvironment


@pytest.fixture(scope="session", autouse=True)
def _tesseract_installed() -> None:
    assert shutil.which("tesseract"), "tesseract is not installed: run installer/system-deps.sh (tesseract-ocr)"


@pytest.fixture
async def env(tmp_path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(artifacts_dir=tmp_path / "artifacts", secrets={"scan.password": "s3cret-pdf"})
    yield environment
    await environment.aclose()
