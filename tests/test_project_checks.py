"""The checks `make lint` runs cover every package, and their exceptions only shrink."""

from __future__ import annotations

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
