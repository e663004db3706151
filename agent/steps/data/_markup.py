"""`data.xpath` (lxml) and `data.validate_schema` (jsonschema)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import BusinessError, MissingDependency
from shared.steps import step


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _need(module: str, what: str) -> None:
    if find_spec(module) is None:
        raise MissingDependency(what, extra="data")


class XPathParams(_Params):
    content: str = Field(min_length=1, description="The XML or HTML text (e.g. a page's source, a file's content).")
    xpath: str = Field(min_length=1, description="The XPath 1.0 expression, e.g. //invoice/@number or //td[2]/text().")
    mode: Literal["xml", "html"] = Field(default="xml", description="Parse as XML (strict) or HTML (forgiving).")
    namespaces: dict[str, str] = Field(default_factory=dict, description="Prefix -> namespace URI used in `xpath`.")
    output: Literal["text", "markup"] = Field(
        default="text", description="For elements: their text content, or their markup."
    )
    first: bool = Field(default=False, description="Return the first result (or null) instead of a list.")

    @field_validator("xpath")
    @classmethod
    def _compiles(cls, value: str) -> str:
        if find_spec("lxml") is None:  # checked again when the step runs
            return value
        from lxml import etree  # type: ignore[import-untyped]

        try:
            etree.XPath(value)
        except etree.XPathSyntaxError as exc:
            raise ValueError(f"'{value}' is not a valid XPath expression: {exc}") from None
        return value


@contextmanager
def map_lxml_errors(what: str) -> Iterator[None]:
    """Translate lxml's parse and evaluation errors."""
    from lxml import etree

    try:
        yield
    except etree.XMLSyntaxError as exc:
        raise BusinessError(f"{what} is not well-formed: {exc}", kind="data") from None
    except etree.XPathError as exc:
        raise BusinessError(f"the XPath could not be evaluated: {exc}", kind="data") from None


def _plain(item: Any, output: str) -> Any:
    from lxml import etree

    if isinstance(item, etree._Element):
        if output == "markup":
            return etree.tostring(item, encoding="unicode", with_tail=False)
        return "".join(item.itertext())
    if isinstance(item, (bool, float, int)):
        return item
    return str(item)  # attribute values and text nodes are "smart strings"


@step(
    "data.xpath", params=XPathParams, output="A list of results (text, markup, numbers), or the first.", effects=False
)
def xpath(params: XPathParams) -> Any:
    """Select from XML or HTML with XPath (lxml); external entities and network access are off.

    Example node:
        {"id": "number", "type": "data.xpath",
         "params": {"content": "{{ steps.page.output.html }}", "mode": "html",
                    "xpath": "//td[@id='no']", "first": true}}
    """
    _need("lxml", "lxml (XPath)")
    from lxml import etree, html

    what = "the HTML" if params.mode == "html" else "the XML"
    with map_lxml_errors(what):
        if params.mode == "html":
            root = html.fromstring(params.content)
        else:
            # No entity expansion, no DTD or network fetches: a document cannot read local files (XXE).
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
            root = etree.fromstring(params.content.encode("utf-8"), parser)
        found = root.xpath(params.xpath, namespaces=params.namespaces or None)
    results = [_plain(i, params.output) for i in found] if isinstance(found, list) else [_plain(found, params.output)]
    if params.first:
        return results[0] if results else None
    return results


class ValidateSchemaParams(_Params):
    data: Any = Field(description="The value to check.")
    json_schema: dict[str, Any] = Field(
        alias="schema", description="The JSON Schema (draft 2020-12 unless it says `$schema`)."
    )
    fail: bool = Field(default=False, description="Fail the step (business error) when the value is invalid.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("json_schema")
    @classmethod
    def _schema_is_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        if find_spec("jsonschema") is None:
            return value
        import jsonschema  # type: ignore[import-untyped]

        try:
            jsonschema.validators.validator_for(value).check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return value


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@step(
    "data.validate_schema",
    params=ValidateSchemaParams,
    output="{valid, errors: [{path, message, keyword}]}: every error, with the JSON path of the bad value.",
    effects=False,
)
def validate_schema(params: ValidateSchemaParams) -> dict[str, Any]:
    """Check a value against a JSON Schema and report every error with its path (jsonschema).

    Example node:
        {"id": "contract", "type": "data.validate_schema",
         "params": {"data": "{{ steps.lines.output.rows }}", "fail": true,
                    "schema": {"type": "array", "items": {"required": ["Item", "Qty"]}}}}
    """
    _need("jsonschema", "jsonschema (JSON Schema validation)")
    import jsonschema

    validator = jsonschema.validators.validator_for(params.json_schema)(params.json_schema)
    errors = [
        {"path": _json_path(e.absolute_path), "message": e.message, "keyword": e.validator}
        for e in sorted(validator.iter_errors(params.data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    ]
    if errors and params.fail:
        listed = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:10])
        more = f" (+{len(errors) - 10} more)" if len(errors) > 10 else ""
        raise BusinessError(
            f"{len(errors)} schema error(s): {listed}{more}", kind="schema", details={"errors": errors[:100]}
        )
    return {"valid": not errors, "errors": errors}
