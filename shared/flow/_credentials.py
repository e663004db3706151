"""The credentials a flow names in step params (`auth.credential: "erp"`), found through the
params schemas of the step catalogue.

A step takes a credential by *name* in a param marked `"x-rpa-credential": true`
(`shared.steps.CREDENTIAL_NAME`). The orchestrator delivers to an agent, and checks access to,
the credentials a flow needs: the ones its templates read (`secrets.erp`) and the ones its
params name. A name that is an expression is only known at run time; the flow then reads it
through a template as well, or the agent reports it missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.expressions import is_template
from shared.flow._walk import walk_nodes
from shared.steps import StepRegistry

Path = tuple[str | int, ...]

MARK = "x-rpa-credential"

_SCHEMAS: dict[type[Any], dict[str, Any]] = {}


def params_schema(model: type[Any]) -> dict[str, Any]:
    schema = _SCHEMAS.get(model)
    if schema is None:
        schema = _SCHEMAS[model] = model.model_json_schema()
    return schema


def _names(value: Any, path: Path) -> Iterator[tuple[str, Path]]:
    """The names a marked param holds: one, a list of names, or an object whose values are
    names (`pdf.merge`'s password per file); expressions are known only at run time."""
    if isinstance(value, str):
        if value and not is_template(value):
            yield value, path
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(item, str) and item and not is_template(item):
            yield item, (*path, key)


def marked_values(
    schema: dict[str, Any], value: Any, path: Path, defs: dict[str, Any], mark: str
) -> Iterator[tuple[Any, Any, Path]]:
    """(mark's value, param value, path) for every part of `value` whose schema carries `mark`.

    Shared by the credential and the asset walks: one reading of `$ref`, `anyOf`, objects and lists.
    """
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = defs.get(ref.rsplit("/", 1)[-1], {})
    if schema.get(mark):
        yield schema[mark], value, path
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for alternative in schema.get(key) or ():
            yield from marked_values(alternative, value, path, defs, mark)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            sub = properties.get(name, extra if isinstance(extra, dict) else None)
            if isinstance(sub, dict):
                yield from marked_values(sub, item, (*path, name), defs, mark)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from marked_values(schema["items"], item, (*path, index), defs, mark)


def _named(schema: dict[str, Any], value: Any, path: Path, defs: dict[str, Any]) -> Iterator[tuple[str, Path]]:
    """(credential name, path) for every marked string in `value`, read against `schema`."""
    for _mark, marked, where in marked_values(schema, value, path, defs, MARK):
        yield from _names(marked, where)


def find_credential_params(document: Any, registry: StepRegistry) -> dict[str, list[Path]]:
    """Credential names written as literal values of marked params, with where each is.

    Args:
        document: a flow document (parsed JSON); nodes of unknown step types are left out.
        registry: the step catalogue whose params schemas say which params hold a name.

    Returns:
        Name (as written: `erp`, or `erp.username` for one field) -> JSON path parts of each
        param holding it (`("nodes", 2, "params", "auth", "credential")`), in document order.
    """
    found: dict[str, list[Path]] = {}
    for visit in walk_nodes(document, registry):
        step_type = visit.node.get("type")
        params = visit.node.get("params")
        if not isinstance(step_type, str) or step_type not in registry or not isinstance(params, dict):
            continue
        schema = params_schema(registry.get(step_type).params)
        for name, path in _named(schema, params, (*visit.parts, "params"), schema.get("$defs") or {}):
            paths = found.setdefault(name, [])
            if path not in paths:
                paths.append(path)
    return found
