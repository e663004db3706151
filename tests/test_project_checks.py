"""The checks `make lint` runs cover every package, and their exceptions only shrink."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

NOT_PACKAGES = {"tests", "bench", "docs", "installer", "resources"}
"""Top-level folders that are not shipped Python packages of the product."""

MYPY_RELAXED: frozenset[str] = frozenset()
"""Modules of ours allowed a mypy override (checks they may still fail). Only ever remove from
this set: a module that becomes strict leaves it, and nothing new enters."""


def _packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")} - NOT_PACKAGES


def test_mypy_checks_every_package_strictly() -> None:
    mypy = PYPROJECT["tool"]["mypy"]
    assert mypy["strict"] is True
    missing = _packages() - set(mypy["files"])
    assert not missing, f"add {sorted(missing)} to [tool.mypy] files in pyproject.toml"


def test_mypy_overrides_for_our_modules_only_shrink() -> None:
    ours = _packages()
    relaxed = set()
    for override in PYPROJECT["tool"]["mypy"].get("overrides", []):
        modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
        relaxed |= {m for m in modules if m.split(".")[0] in ours}
    grown = relaxed - MYPY_RELAXED
    assert not grown, f"{sorted(grown)} may not be relaxed: make them pass `mypy --strict` instead"


HEAVY = (
    "playwright",
    "pyautogui",
    "pytesseract",
    "openpyxl",
    "pdfplumber",
    "PySide6",
    "qasync",
    "anthropic",
    "cv2",
    "pypdfium2",
    "python_calamine",
)


def _ruff(source: str, filename: str) -> set[str]:
    """The rule codes ruff reports for `source` as if it were the project's file `filename`."""
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "check", "--no-cache", "--output-format", "json", "--stdin-filename", filename, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr
    return {finding["code"] for finding in json.loads(done.stdout)}


def test_a_heavy_library_imported_at_module_level_is_refused() -> None:
    for name in HEAVY:
        source = f'"""A step family."""\n\nimport {name}\n\n\ndef use() -> object:\n    return {name}\n'
        assert "TID253" in _ruff(source, "agent/steps/sample.py"), name
        inside = f'"""A step family."""\n\n\ndef use() -> object:\n    import {name}\n\n    return {name}\n'
        assert _ruff(inside, "agent/steps/sample.py") == set(), name
    part = '"""A step family."""\n\nfrom playwright.async_api import Page\n\n\ndef use(page: Page) -> None:\n    pass\n'
    assert "TID253" in _ruff(part, "agent/steps/sample.py")
    typing_only = (
        '"""A step family."""\n\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n'
        '    from playwright.async_api import Page\n\n\ndef use(page: "Page") -> None:\n    pass\n'
    )
    assert _ruff(typing_only, "agent/steps/sample.py") == set()


def test_print_is_refused_outside_the_benchmarks() -> None:
    source = '"""A module."""\n\n\ndef show() -> None:\n    print("hello")\n'
    assert "T201" in _ruff(source, "shared/sample.py")
    assert "T201" in _ruff(source, "orchestrator/sample.py")
    assert _ruff(source, "bench/sample.py") == set()


def test_a_function_with_too_many_paths_is_refused() -> None:
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(11))
    source = f'"""A module."""\n\n\ndef pick(x: int) -> int:\n{branches}    return -1\n'
    assert "C901" in _ruff(source, "shared/sample.py")
