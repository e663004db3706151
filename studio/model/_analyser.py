"""The workflow analyser: habits that work today and fail in production, as switchable rules.

Each rule has an id (shown with its warnings, used to switch it off), a title and a check. The
rules are one table (`RULES`); `analyse` runs the enabled ones over a raw document. They warn,
they never block a run or a save: the validator says what is wrong, the analyser what is risky.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from shared.expressions import is_template
from shared.flow import find_credential_params
from shared.flow._validate import json_path
from shared.steps import StepRegistry
from studio.model._index import NodeIndex, NodeRef, Parts
from studio.model._refs import names_used


@dataclass(frozen=True, slots=True)
class Finding:
    """One warning of the analyser."""

    rule: str
    message: str
    path: str
    node: str | None
    severity: str = "warning"


@dataclass(frozen=True, slots=True)
class Scope:
    """What the rules look at."""

    document: dict[str, Any]
    registry: StepRegistry
    index: NodeIndex
    known_credentials: frozenset[str] | None


Check = Callable[[Scope], Iterator[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One analyser rule."""

    id: str
    title: str
    check: Check


def _params(ref: NodeRef) -> dict[str, Any]:
    params = ref.node.get("params")
    return params if isinstance(params, dict) else {}


def _strings(value: Any, parts: Parts) -> Iterator[tuple[Parts, str | int, Any]]:
    """(parts, key, value) for every leaf inside `value`."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(item, dict | list):
            yield from _strings(item, (*parts, key))
        else:
            yield (*parts, key), key, item


_WAIT_TYPES = re.compile(r"\.(wait|sleep|delay|pause)$")
_WAIT_PARAMS = ("seconds", "ms", "milliseconds", "delay", "delay_s", "duration", "duration_s")


def hard_coded_waits(scope: Scope) -> Iterator[Finding]:
    """A wait/sleep step with a literal delay: slow when the app is fast, flaky when it is slow."""
    for ref in scope.index.refs:
        step_type = ref.node.get("type")
        if not isinstance(step_type, str) or not _WAIT_TYPES.search(step_type):
            continue
        params = _params(ref)
        for name in _WAIT_PARAMS:
            value = params.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield Finding(
                    "hard-coded-wait",
                    f"'{ref.id}' waits a fixed {value:g} {'ms' if name.startswith('m') else 's'}: "
                    "wait for what you need instead (browser.wait, desktop.wait, files.wait_for_file)",
                    json_path((*ref.parts, "params", name)),
                    ref.id,
                )


def empty_catch(scope: Scope) -> Iterator[Finding]:
    """A try whose catch body is empty swallows every error silently."""
    for ref in scope.index.refs:
        catch = ref.node.get("catch")
        if ref.node.get("type") == "control.try" and isinstance(catch, dict) and not catch.get("nodes"):
            yield Finding(
                "empty-catch",
                f"'{ref.id}' catches errors and does nothing with them: log, notify or rethrow (core.fail)",
                json_path((*ref.parts, "catch")),
                ref.id,
            )


def unused_variables(scope: Scope) -> Iterator[Finding]:
    """A declared variable that no expression reads."""
    variables = scope.document.get("variables")
    if not isinstance(variables, dict):
        return
    read = names_used({k: v for k, v in scope.document.items() if k != "variables"}, "vars")
    read |= names_used(variables, "vars")
    for name in variables:
        if name not in read:
            yield Finding(
                "unused-variable",
                f"variable '{name}' is never read (vars.{name})",
                json_path(("variables", name)),
                None,
            )


_CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,127}$")
_SECRETISH = re.compile(r"(^|_)(password|passwd|pwd|passphrase|secret|token|api_?key|authorization)($|_)", re.I)


def literal_secrets(scope: Scope) -> Iterator[Finding]:
    """A secret typed into the flow: a credential param holding something that is not a name,
    or a password-like param holding a literal (it ends up in the file, the history, the logs)."""
    marked: set[Parts] = set()
    for name, paths in find_credential_params(scope.document, scope.registry).items():
        for parts in paths:
            marked.add(parts)
            known = scope.known_credentials
            if _CREDENTIAL_NAME.match(name) and (known is None or name.split(".")[0] in known):
                continue
            node = scope.index.node_at(parts)
            yield Finding(
                "literal-secret",
                "a credential param holds something that is not a credential name: store the secret in the "
                "vault and put its name here",
                json_path(parts),
                node.id if node else None,
            )
    for ref in scope.index.refs:
        for parts, key, value in _strings(_params(ref), (*ref.parts, "params")):
            if parts in marked or not isinstance(key, str) or not _SECRETISH.search(key):
                continue
            if isinstance(value, str) and value and not is_template(value):
                yield Finding(
                    "literal-secret",
                    f"'{ref.id}' has a literal {key}: read it from a credential ({{{{ secrets.<name> }}}})",
                    json_path(parts),
                    ref.id,
                )


_POSITIONAL = re.compile(r"nth=\d|:nth-(child|of-type|last-child|last-of-type|match)\(|>>\s*nth=")
_XPATH_INDEX = re.compile(r"\[\s*\d+\s*\]")


def positional_selectors(scope: Scope) -> Iterator[Finding]:
    """A selector that picks an element by its position breaks when the page adds a row."""
    for ref in scope.index.refs:
        for parts, _key, value in _strings(_params(ref), (*ref.parts, "params")):
            if not isinstance(value, str):
                continue
            xpath = value.lstrip("(").startswith(("/", "xpath=")) and _XPATH_INDEX.search(value)
            if _POSITIONAL.search(value) or xpath:
                yield Finding(
                    "positional-selector",
                    f"'{ref.id}' finds its element by position ({value!r}): prefer a role, label, text or test id",
                    json_path(parts),
                    ref.id,
                )


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("hard-coded-wait", "Hard-coded wait", hard_coded_waits),
        Rule("empty-catch", "Empty catch", empty_catch),
        Rule("unused-variable", "Unused variable", unused_variables),
        Rule("literal-secret", "Secret typed as a literal", literal_secrets),
        Rule("positional-selector", "Selector with a positional index", positional_selectors),
    )
}
"""The analyser's rules by id."""


def analyse(
    document: dict[str, Any],
    registry: StepRegistry,
    index: NodeIndex,
    *,
    disabled: Iterable[str] = (),
    known_credentials: Iterable[str] | None = None,
) -> list[Finding]:
    """The findings of the enabled rules, rule by rule in table order.

    Args:
        document: the raw flow document.
        registry: the step catalogue (credential params are read from its schemas).
        index: the document's node index.
        disabled: rule ids switched off.
        known_credentials: the vault's credential names when known (signed in): a credential
            param naming anything else is reported too.
    """
    off = set(disabled)
    unknown = off - set(RULES)
    if unknown:
        raise KeyError(f"unknown analyser rule(s): {', '.join(sorted(unknown))}; rules are: {', '.join(RULES)}")
    known = frozenset(known_credentials) if known_credentials is not None else None
    scope = Scope(document, registry, index, known)
    return [finding for rule in RULES.values() if rule.id not in off for finding in rule.check(scope)]
