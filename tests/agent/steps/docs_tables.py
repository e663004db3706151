"""Params tables of the step pages in docs/steps/, generated from the params models.

A page holds `<!-- params: pdf.read_text -->` ... `<!-- /params -->` blocks; `render_page` fills
each block with the table of that step's params. The tests compare the page with its rendering;
`RPA_UPDATE_DOCS=1` rewrites it.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from shared.steps import definition_of

BLOCK = re.compile(r"(<!-- params: (?P<name>[\w.]+) -->\n)(?P<body>.*?)(<!-- /params -->)", re.S)


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type(a) for a in args)
    if origin is not None:
        inner = ", ".join(_type(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def params_table(model: type[BaseModel]) -> str:
    """A Markdown table of a params model: name, type, default, description."""
    lines = ["| param | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if field.default is PydanticUndefined and field.default_factory is None:
            default = "required"
        elif field.default_factory is not None:
            default = f"`{field.default_factory()!r}`"  # type: ignore[call-arg]
        else:
            default = f"`{field.default!r}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{field.alias or name}` | {_type(field.annotation)} | {default} | {description} |")
    return "\n".join(lines) + "\n"


def render_page(text: str, steps: Iterable[Any]) -> str:
    """The page with every params block filled from the step definitions."""
    by_name = {definition_of(s).name: definition_of(s) for s in steps}

    def fill(match: re.Match[str]) -> str:
        definition = by_name[match.group("name")]
        return match.group(1) + params_table(definition.params) + match.group(4)

    return BLOCK.sub(fill, text)


def documented(text: str) -> set[str]:
    """The step names a page has params blocks for."""
    return {m.group("name") for m in BLOCK.finditer(text)}
