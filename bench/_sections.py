"""What the top-level benchmark scripts share: their optional sections, each in a file of its own
(`bench/_ui_desktop.py`, `bench/_data_pdf.py`, `bench/_integrations_imap.py`...), and a plain
table for rows of any shape.

A section file exposes `run(args) -> list[dict]` and, when it has options of its own,
`add_arguments(parser)`; the script that runs it adds those options to its own parser, so
`script.py --help` lists them and `run` finds them on `args`. bench/ is not a package: the files
are loaded by path.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def load(names: tuple[str, ...], parser: argparse.ArgumentParser) -> dict[str, ModuleType]:
    """The section files of `names` that exist (name -> module), their options added to `parser`."""
    modules: dict[str, ModuleType] = {}
    for name in names:
        file = HERE / f"{name}.py"
        if not file.exists():
            continue
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {file}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
        modules[name] = module
    return modules


def render_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a text table: one column per key of the first row (lists and dicts left out)."""
    if not rows:
        return "(no rows)"
    keys = [key for key, value in rows[0].items() if not isinstance(value, list | dict)]
    cells = [[_cell(row.get(key)) for key in keys] for row in rows]
    widths = [max(len(key), *(len(line[i]) for line in cells)) for i, key in enumerate(keys)]
    lines = [_line(keys, widths), "-" * (sum(widths) + 2 * len(widths) - 2)]
    lines += [_line(line, widths) for line in cells]
    return "\n".join(lines)


def _line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
