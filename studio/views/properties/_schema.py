"""What kind of field each part of a params JSON Schema becomes (Qt-free, so it is tested and
reused without widgets).

The rules, in order (documented in `docs/studio.md`, "Properties and panels"):

- a value schema marked `"x-rpa-credential": true` is a credential picker;
- `"x-rpa-asset": "targets"` (desktop targets) is an image-target field with "Capture region";
- `"x-rpa-asset": "file"`, a `format` of `path`/`file-path`/`directory-path`, or a text field
  named `path`, `file`, `*_path`, `*_file` is a file picker;
- in a step of capability `browser`, a text field named `target`, `selector` or `*_selector`
  (or an `anyOf` holding one) is a selector field with "Pick element";
- then by JSON type: `enum` / `const`, `boolean`, `integer`, `number`, `string`, `array`,
  `object` with `properties` (a group), `object` with only `additionalProperties` (key/value
  rows), an `anyOf` of several kinds (a choice), and anything else as raw JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from shared.expressions import is_template

_FILE_NAME = re.compile(r"^(path|file|.+_path|.+_file)$")
_SELECTOR_NAME = re.compile(r"^(target|selector|.+_selector)$")
_UNIT = re.compile(r"_(s|ms|px)$")
_FILE_FORMATS = {"path", "file-path", "directory-path"}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the form: its kind and what the widget needs to know."""

    name: str
    kind: str
    schema: dict[str, Any]
    title: str = ""
    description: str = ""
    required: bool = False
    nullable: bool = False
    default: Any = None
    has_default: bool = False
    children: tuple[FieldSpec, ...] = ()
    alternatives: tuple[FieldSpec, ...] = ()
    item: FieldSpec | None = None
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        """What the form shows next to the field: its name in words (`timeout_s` -> "Timeout (s)")."""
        if not self.name:
            return self.title
        words = _UNIT.sub(lambda m: f" ({m.group(1)})", self.name).replace("_", " ").strip()
        return words[:1].upper() + words[1:]


def resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a `$ref` replaced by its definition (its own keys kept over the target's)."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    target = defs.get(ref.rsplit("/", 1)[-1], {})
    merged = {**resolve(target, defs), **{k: v for k, v in schema.items() if k != "$ref"}}
    return merged


def _bounds(schema: dict[str, Any]) -> tuple[float | None, float | None]:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    return (
        float(low) if isinstance(low, int | float) else None,
        float(high) if isinstance(high, int | float) else None,
    )


def _marked_kind(name: str, schema: dict[str, Any], capability: str | None) -> str | None:
    """The special kinds read from marks and names (credential, image target, file, selector)."""
    if schema.get("x-rpa-credential"):
        return "credential"
    if schema.get("x-rpa-asset") == "targets":
        return "image_target"
    if schema.get("type") != "string" and "anyOf" not in schema:
        return None
    if schema.get("x-rpa-asset") == "file" or schema.get("format") in _FILE_FORMATS:
        return "file"
    if schema.get("type") == "string" and _FILE_NAME.match(name):
        return "file"
    if capability == "browser" and _SELECTOR_NAME.match(name):
        return "selector"
    return None


def _plain_kind(schema: dict[str, Any]) -> str:
    if "enum" in schema or "const" in schema:
        return "enum"
    kinds = {"boolean": "bool", "integer": "int", "number": "float", "string": "text", "array": "list"}
    json_type = schema.get("type")
    if isinstance(json_type, str) and json_type in kinds:
        return kinds[json_type]
    if json_type == "object" or "properties" in schema:
        return "object" if schema.get("properties") else "map"
    return "json"


def field_spec(
    name: str,
    schema: dict[str, Any],
    defs: dict[str, Any],
    *,
    required: bool = False,
    capability: str | None = None,
) -> FieldSpec:
    """The field for `schema` (a property named `name` of a params model)."""
    schema = resolve(schema, defs)
    common: dict[str, Any] = {
        "name": name,
        "title": str(schema.get("title") or ""),
        "description": str(schema.get("description") or ""),
        "required": required,
        "default": schema.get("default"),
        "has_default": "default" in schema,
    }
    alternatives = [resolve(s, defs) for s in schema.get("anyOf") or schema.get("oneOf") or ()]
    nullable = any(a.get("type") == "null" for a in alternatives)
    real = [a for a in alternatives if a.get("type") != "null"]
    if len(real) == 1:
        # `X | None`: the field is X, and may be left empty.
        inner = {**real[0], **{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}}
        spec = field_spec(name, inner, defs, required=required, capability=capability)
        return replace(spec, nullable=True, default=common["default"], has_default=common["has_default"])
    marked = _marked_kind(name, schema, capability)
    if marked is None and real and any(_marked_kind(name, a, capability) == "selector" for a in real):
        marked = "selector"
    if marked is not None:
        return FieldSpec(kind=marked, schema=schema, nullable=nullable, **common)
    if real:
        options = tuple(field_spec(name, a, defs, capability=capability) for a in real)
        return FieldSpec(kind="choice", schema=schema, nullable=nullable, alternatives=options, **common)
    kind = _plain_kind(schema)
    low, high = _bounds(schema)
    extra: dict[str, Any] = {"exclusive_minimum": "exclusiveMinimum" in schema}
    if kind == "enum":
        values = tuple(schema["enum"]) if "enum" in schema else (schema["const"],)
        return FieldSpec(kind=kind, schema=schema, enum=values, **common)
    if kind == "list":
        items = schema.get("items")
        item = field_spec("item", items if isinstance(items, dict) else {}, defs, capability=capability)
        return FieldSpec(kind=kind, schema=schema, item=item, **common)
    if kind == "object":
        return FieldSpec(kind=kind, schema=schema, children=object_fields(schema, defs, capability), **common)
    if kind == "map":
        values_schema = schema.get("additionalProperties")
        item = field_spec("value", values_schema if isinstance(values_schema, dict) else {}, defs)
        return FieldSpec(kind=kind, schema=schema, item=item, **common)
    return FieldSpec(kind=kind, schema=schema, minimum=low, maximum=high, extra=extra, **common)


def object_fields(schema: dict[str, Any], defs: dict[str, Any], capability: str | None = None) -> tuple[FieldSpec, ...]:
    """The fields of an object schema, in declaration order."""
    required = set(schema.get("required") or ())
    properties = schema.get("properties") or {}
    return tuple(
        field_spec(name, sub, defs, required=name in required, capability=capability)
        for name, sub in properties.items()
        if isinstance(sub, dict)
    )


def params_fields(params_schema: dict[str, Any], capability: str | None = None) -> tuple[FieldSpec, ...]:
    """The top-level fields of a step's params schema (`model_json_schema()`)."""
    return object_fields(params_schema, params_schema.get("$defs") or {}, capability)


def fits(spec: FieldSpec, value: Any) -> bool:
    """Whether the field's widget can show `value` (else the form shows it as raw JSON, kept)."""
    if value is None:
        return spec.nullable or not spec.required
    if isinstance(value, str) and is_template(value):
        return True
    checks: dict[str, Any] = {
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "text": lambda v: isinstance(v, str),
        "file": lambda v: isinstance(v, str),
        "credential": lambda v: isinstance(v, str),
        "image_target": lambda v: isinstance(v, str),
        "selector": lambda v: isinstance(v, str | dict),
        "enum": lambda v: v in spec.enum,
        "list": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict) and set(v) <= {c.name for c in spec.children},
        "map": lambda v: isinstance(v, dict),
        "choice": lambda v: choose(spec, v) is not None,
        "json": lambda v: True,
    }
    return bool(checks[spec.kind](value))


def choose(spec: FieldSpec, value: Any) -> int | None:
    """Which alternative of a choice field holds `value` (the first that fits)."""
    for position, alternative in enumerate(spec.alternatives):
        if alternative.kind == "object" and isinstance(value, dict):
            consts = {c.name: c.enum[0] for c in alternative.children if c.kind == "enum" and len(c.enum) == 1}
            if all(value.get(key) == const for key, const in consts.items()) and fits(alternative, value):
                return position
            continue
        if fits(alternative, value) and value is not None:
            return position
    return None


def initial(spec: FieldSpec) -> Any:
    """A fresh value for a new list row or a newly chosen alternative."""
    if spec.has_default and spec.default is not None:
        return spec.default
    starts: dict[str, Any] = {"bool": False, "int": 0, "float": 0.0, "list": [], "map": {}, "json": None}
    if spec.kind == "enum":
        return spec.enum[0] if spec.enum else None
    if spec.kind == "object":
        return {c.name: c.enum[0] for c in spec.children if c.kind == "enum" and len(c.enum) == 1 and c.required}
    return starts.get(spec.kind, "")


def alternative_title(spec: FieldSpec) -> str:
    """How a choice names one of its alternatives."""
    if spec.kind == "object":
        consts = [c.enum[0] for c in spec.children if c.kind == "enum" and len(c.enum) == 1]
        if consts:
            return str(consts[0])
    names = {"text": "text", "list": "list", "object": "object", "int": "number", "float": "number", "bool": "yes/no"}
    return spec.title if spec.kind == "object" and spec.title else names.get(spec.kind, spec.kind)
