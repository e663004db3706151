"""Compiling JSON values that hold templates into fast renderers.

A node's parameters are compiled once and rendered every time the node runs, so the work is
split accordingly: `compile_value` walks the value, parses each template once (cached by its
text) and returns a function that only evaluates what can change. Parts without templates are
returned as they are, without copying.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Template, Undefined
from jinja2.environment import TemplateExpression
from jinja2.runtime import Context

from ._environment import ENVIRONMENT, reject_undefined, translate_errors
from ._errors import ExpressionError

__all__ = ["Renderer", "compile_template", "compile_value", "evaluate", "has_template_syntax", "render"]

Renderer = Callable[[Mapping[str, Any]], Any]
"""Renders a compiled value with a scope: the names ``inputs``, ``vars``, ``steps``..."""

# One whole expression with optional whitespace around it, "{{-" / "-}}" markers included.
# The inner text may still hold "}}" (``{{ a }} and {{ b }}``); compiling it as an expression
# then fails and the string is treated as a text template.
_WHOLE_EXPRESSION = re.compile(r"\s*\{\{[-+]?(.*?)[-+]?\}\}\s*", re.DOTALL)

# A plain path such as ``steps.fetch.output`` or ``inputs['rows'][0]`` only reads scope data,
# which cannot contain undefined objects, so its result needs no deep check.
_PATH = re.compile(r"""\s*[A-Za-z_]\w*(?:\s*\.\s*\w+|\s*\[\s*(?:'[^']*'|"[^"]*"|-?\d+)\s*\])*\s*""")

# Compiled templates kept by their text (about 4 KiB each). A scan larger than an LRU cache misses
# on every entry, so the size must exceed the templates of the largest flow validated or run at
# once: the studio re-validates a 5,000-node flow (about 4,100 templates) after each edit.
_CACHE_SIZE = 16384


def has_template_syntax(text: str) -> bool:
    """Whether a string contains ``{{`` or ``{%``."""
    return "{{" in text or "{%" in text


_GLOBALS = dict(ENVIRONMENT.globals)


def _context(template: Template, scope: Mapping[str, Any]) -> Context:
    # Template.render() and TemplateExpression merge the globals into the scope through a
    # ChainMap on every call, which costs more than evaluating a typical expression. The
    # environment's globals never change and no template has globals of its own, so a flat
    # copy merged with the scope gives the template the same names at half the cost.
    return ENVIRONMENT.context_class(ENVIRONMENT, {**_GLOBALS, **scope}, template.name, template.blocks)


def _expression_renderer(expression: TemplateExpression, source: str, plain_path: bool) -> Renderer:
    # compile_expression wraps the expression in a template that assigns it to "result".
    template = expression._template
    run = template.root_render_func

    def render_expression(scope: Mapping[str, Any]) -> Any:
        with translate_errors(source, scope):
            context = _context(template, scope)
            for _ in run(context):
                pass
            result = context.vars["result"]
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            if not plain_path:
                reject_undefined(result)
            return result

    return render_expression


def _text_renderer(template: Template, source: str) -> Renderer:
    run = template.root_render_func

    def render_text(scope: Mapping[str, Any]) -> str:
        with translate_errors(source, scope):
            return "".join(run(_context(template, scope)))

    return render_text


def _compile_expression(expression: str, source: str) -> TemplateExpression:
    with translate_errors(source):
        return ENVIRONMENT.compile_expression(expression, undefined_to_none=False)


@lru_cache(maxsize=_CACHE_SIZE)
def compile_template(source: str) -> Renderer:
    """Compile one template string (cached by its text).

    Raises:
        ExpressionError: The template is invalid (usually ``kind="syntax"``).
    """
    whole = _WHOLE_EXPRESSION.fullmatch(source)
    if whole is not None:
        inner = whole.group(1)
        try:
            expression = _compile_expression(inner, source)
        except ExpressionError as exc:
            if exc.kind != "syntax":
                raise
        else:
            return _expression_renderer(expression, source, _PATH.fullmatch(inner) is not None)
    with translate_errors(source):
        template = ENVIRONMENT.from_string(source)
    return _text_renderer(template, source)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_bare(expression: str) -> Renderer:
    compiled = _compile_expression(expression, expression)
    return _expression_renderer(compiled, expression, _PATH.fullmatch(expression) is not None)


def _compile(value: Any) -> Renderer | None:
    """A renderer for ``value``, or None when it holds no template (it renders to itself)."""
    if isinstance(value, str):
        return compile_template(value) if has_template_syntax(value) else None
    if isinstance(value, Mapping):
        entries = [(key, item, _compile(item)) for key, item in value.items()]
        if all(renderer is None for _, _, renderer in entries):
            return None

        def render_mapping(scope: Mapping[str, Any]) -> dict[Any, Any]:
            return {key: item if renderer is None else renderer(scope) for key, item, renderer in entries}

        return render_mapping
    if isinstance(value, list | tuple):
        members = [(item, _compile(item)) for item in value]
        if all(renderer is None for _, renderer in members):
            return None
        container = type(value) if type(value) in (list, tuple) else list

        def render_sequence(scope: Mapping[str, Any]) -> Any:
            return container(item if renderer is None else renderer(scope) for item, renderer in members)

        return render_sequence
    return None


def compile_value(value: Any) -> Renderer:
    """Compile a JSON value whose strings may hold ``{{ … }}`` templates.

    Dict values and list items are walked; dict keys are never templates. A string that is a
    single expression (``"{{ steps.fetch.output }}"``, whitespace around it allowed) renders to
    the expression's native value (list, dict, number, bool, None); any other string with
    template syntax renders to text; everything else renders to itself.

    The rendered value shares every part without templates with ``value`` (no copy is made),
    so treat both as read-only.

    Args:
        value: A JSON-like value (dicts, lists, strings, numbers, booleans, None).

    Returns:
        A function of the scope (a mapping of names) that returns the rendered value.

    Raises:
        ExpressionError: A template in ``value`` is invalid (``kind="syntax"``).
    """
    renderer = _compile(value)
    if renderer is not None:
        return renderer

    def constant(scope: Mapping[str, Any]) -> Any:
        return value

    return constant


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Compile and render ``value`` in one call (see `compile_value`).

    Raises:
        ExpressionError: A template is invalid or fails to evaluate.
    """
    return compile_value(value)(scope)


def evaluate(expression: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate a bare expression, written without braces (``inputs.count > 3``).

    Args:
        expression: The expression text.
        scope: The names it may use.

    Returns:
        The expression's native value.

    Raises:
        ExpressionError: The expression is invalid or fails to evaluate.
    """
    return _compile_bare(expression)(scope)
