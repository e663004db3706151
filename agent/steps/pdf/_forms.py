"""AcroForm fields read and filled (pypdf)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent.steps._storage_io import storage_credential_field, storage_path
from agent.steps.pdf._documents import SourceParams, existing, open_pypdf, output_path, resolve_password
from agent.steps.pdf._errors import map_pdf_errors
from shared.errors import BusinessError
from shared.steps import step

_TYPES = {"/Tx": "text", "/Btn": "button", "/Ch": "choice", "/Sig": "signature"}


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    text = str(value)
    return text[1:] if text.startswith("/") else text


def _describe(name: str, field: Any) -> dict[str, Any]:
    kind = _TYPES.get(str(field.get("/FT")), "unknown")
    states = [s for s in (_plain(x) for x in field.get("/_States_", [])) if s and s != "Off"]
    if kind == "button" and states:
        kind = "checkbox"
    options = [_plain(o[0] if isinstance(o, list) else o) for o in field.get("/Opt", [])] or states
    return {"name": name, "type": kind, "value": _plain(field.get("/V")), "options": options}


class ReadFormParams(SourceParams):
    storage_credential: str | None = storage_credential_field()


def _fields(reader: Any, source: Any, credential: str | None) -> dict[str, dict[str, Any]]:
    with map_pdf_errors(source, credential=credential):
        found = reader.get_fields() or {}
    return {name: _describe(name, field) for name, field in found.items()}


@step(
    "pdf.read_form",
    params=ReadFormParams,
    output="{values, fields}: field name -> value, and a table of fields [{name, type, value, options}].",
    effects=False,
)
@storage_path("read")
def read_form(params: ReadFormParams) -> dict[str, Any]:
    """Read the form (AcroForm) fields of a PDF and their values (pypdf).

    Example node:
        {"id": "form", "type": "pdf.read_form", "params": {"path": "application.pdf"}}
    """
    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    fields = _fields(reader, source, params.password)
    return {"values": {n: f["value"] for n, f in fields.items()}, "fields": list(fields.values())}


class FillFormParams(SourceParams):
    values: dict[str, str | bool | int | float] = Field(
        min_length=1, description="Field name -> value; a checkbox takes true/false."
    )
    output: str = Field(min_length=1, description="The filled PDF to write.")
    overwrite: bool = Field(default=False, description="Replace `output` when it exists.")
    flatten: bool = Field(default=False, description="Turn the fields into plain page content (no longer editable).")


def _form_value(field: dict[str, Any], value: str | bool | int | float) -> str:
    if field["type"] == "checkbox" and isinstance(value, bool):
        return "/" + (field["options"][0] if value else "Off")
    return str(value)


@step("pdf.fill_form", params=FillFormParams, output="{path, pages, size, filled}: the file written, fields set.")
def fill_form(params: FillFormParams) -> dict[str, Any]:
    """Fill the form fields of a PDF and write the result (pypdf).

    Example node:
        {"id": "fill", "type": "pdf.fill_form",
         "params": {"path": "form.pdf", "values": {"name": "Ann", "agree": true}, "output": "filled.pdf"}}
    """
    from pypdf import PdfWriter

    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    fields = _fields(reader, source, params.password)
    unknown = sorted(set(params.values) - set(fields))
    if unknown:
        raise BusinessError(
            f"'{source.name}' has no form field(s) {unknown}; its fields are {sorted(fields)}",
            kind="data",
            details={"file": source.name, "unknown": unknown},
        )
    values = {name: _form_value(fields[name], value) for name, value in params.values.items()}
    target = output_path(params.output, params.overwrite)
    with map_pdf_errors(source, credential=params.password):
        writer = PdfWriter(clone_from=reader)
        writer.set_need_appearances_writer(True)
        writer.update_page_form_field_values(None, values, auto_regenerate=False, flatten=params.flatten)
        with open(target, "wb") as handle:
            writer.write(handle)
    return {"path": str(target), "pages": len(writer.pages), "size": target.stat().st_size, "filled": sorted(values)}
