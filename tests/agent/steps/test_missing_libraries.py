"""Without their library, document steps fail with MissingDependency naming the extra to install."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.steps import data, pdf, word
from shared.errors import MissingDependency
from shared.steps import StepEnvironment

real_find_spec = importlib.util.find_spec


def _without(module: str) -> Callable[..., Any]:
    def find_spec(name: str, *args: Any) -> Any:
        return None if name == module else real_find_spec(name, *args)

    return find_spec


@pytest.mark.parametrize(
    ("module", "step_fn", "params", "extra"),
    [
        ("pypdfium2", pdf.read_text, {"path": "x.pdf"}, "pdf"),
        ("pdfplumber", pdf.read_tables, {"path": "x.pdf"}, "pdf"),
        ("pypdf", pdf.read_form, {"path": "x.pdf"}, "pdf"),
        ("docx", word.read, {"path": "x.docx"}, "word"),
        ("babel", data.parse_number, {"text": "1"}, "data"),
        ("lxml", data.xpath, {"content": "<a/>", "xpath": "/a"}, "data"),
        ("jsonschema", data.validate_schema, {"data": 1, "schema": {}}, "data"),
    ],
)
async def test_a_missing_library_names_its_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, module: str, step_fn: Any, params: dict[str, Any], extra: str
) -> None:
    from agent.steps.data import _crypto, _markup, _numbers

    monkeypatch.setattr(importlib.util, "find_spec", _without(module))
    for imported_it in (_crypto, _markup, _numbers):  # these bound find_spec at import
        monkeypatch.setattr(imported_it, "find_spec", _without(module))
    with pytest.raises(MissingDependency, match=rf"install the '{extra}' extra \(pip install 'rpa-suite\[{extra}\]'\)"):
        await StepEnvironment(artifacts_dir=tmp_path).run(step_fn, params)
