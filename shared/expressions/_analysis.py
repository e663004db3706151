"""Static questions about JSON values that hold templates, answered without rendering them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import nodes

from ._environment import ENVIRONMENT, translate_errors
from ._errors import ExpressionError
from ._render import compile_template, has_template_syntax

__all__ = ["SECRETS_NAME", "check_syntax", "find_secret_refs", "find_secret_uses", "is_template"]

SECRETS_NAME = "secrets"
"""The scope name under which a run's secrets are found."""

Path = tuple[str | int, ...]


def _templates(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string with template syntax inside ``value``, with its path (keys are not walked)."""
    if isinstance(value, str):
        if has_template_syntax(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _templates(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _templates(item, (*path, index))


def is_template(value: Any) -> bool:
    """Whether any string inside a JSON value contains template syntax (``{{`` or ``{%``)."""
    return next(_templates(value), None) is not None


def check_syntax(value: Any) -> list[tuple[Path, str]]:
    """Find every invalid template inside a JSON value.

    Unknown filters and tests count as syntax problems, as they would fail every render.

    Args:
        value: A JSON-like value, walked like `compile_value` walks it.

    Returns:
        ``(path, message)`` for each problem, where ``path`` leads from ``value`` to the string
        (e.g. ``(("headers", "X-Id"), "unexpected '}' (line 1)")``); empty if all is well.
        Never raises.
    """
    problems: list[tuple[Path, str]] = []
    for path, text in _templates(value):
        try:
            compile_template(text)
        except ExpressionError as exc:
            problems.append((path, exc.message))
        except Exception as exc:  # a promise to callers that validate untrusted documents
            problems.append((path, str(exc) or type(exc).__name__))
    return problems


def _is_secrets(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == SECRETS_NAME and node.ctx == "load"


def _constant_text(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    return None


def _secret_refs(template: nodes.Template) -> set[str]:
    names: set[str] = set()
    method_lookups: set[int] = set()
    for call in template.find_all(nodes.Call):
        # secrets.get('name') reads the secret 'name', not one called 'get'.
        target = call.node
        if isinstance(target, nodes.Getattr) and target.attr == "get" and _is_secrets(target.node):
            method_lookups.add(id(target))
            if call.args and (name := _constant_text(call.args[0])) is not None:
                names.add(name)
    for attribute in template.find_all(nodes.Getattr):
        if _is_secrets(attribute.node) and id(attribute) not in method_lookups:
            names.add(attribute.attr)
    for item in template.find_all(nodes.Getitem):
        if _is_secrets(item.node) and (name := _constant_text(item.arg)) is not None:
            names.add(name)
    return names


def find_secret_refs(value: Any) -> set[str]:
    """The names of the secrets that the templates inside a JSON value read.

    Recognises ``secrets.NAME``, ``secrets['NAME']`` and ``secrets.get('NAME')``. A name built
    at run time (``secrets[inputs.which]``) or an alias (``{% set s = secrets %}``) cannot be
    known statically and is not reported; such a lookup fails at run time with "unknown secret"
    when the secret was not provided. Invalid templates are skipped (`check_syntax` reports
    them).

    Args:
        value: A JSON-like value, e.g. a whole flow document.

    Returns:
        The secret names referenced.
    """
    names: set[str] = set()
    for _, text in _templates(value):
        try:
            with translate_errors(text):
                template = ENVIRONMENT.parse(text)
        except ExpressionError:
            continue
        names |= _secret_refs(template)
    return names


def find_secret_uses(value: Any) -> dict[str, list[Path]]:
    """Where the templates inside a JSON value read each secret: `find_secret_refs`, with the
    path of every string that reads it (in document order).

    Args:
        value: A JSON-like value, e.g. a whole flow document.

    Returns:
        Secret name -> the paths (as `check_syntax` gives them) of the strings that read it.
    """
    uses: dict[str, list[Path]] = {}
    for path, text in _templates(value):
        try:
            with translate_errors(text):
                template = ENVIRONMENT.parse(text)
        except ExpressionError:
            continue
        for name in sorted(_secret_refs(template)):
            uses.setdefault(name, []).append(path)
    return uses
