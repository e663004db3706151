"""Generated PDF documents, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.steps.pdf.documents import long_table_pdf, write_all


@pytest.fixture(scope="session")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pdf-docs")
    paths = write_all(folder)
    paths["long.pdf"] = folder / "long.pdf"
    paths["long.pdf"].write_bytes(long_table_pdf(30, rows=6))
    return paths
