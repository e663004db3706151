"""data.xpath, data.validate_schema, data.format_number/parse_number, data.encrypt_fields/decrypt_fields."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agent.steps.data import decrypt_fields, encrypt_fields, format_number, parse_number, validate_schema, xpath
from shared.errors import BusinessError, StepError
from shared.steps import StepEnvironment

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
XML = """<?xml version="1.0"?>
<inv:invoice xmlns:inv="urn:example:invoice" number="INV-7">
  <inv:line qty="2"><inv:item>Paper</inv:item></inv:line>
  <inv:line qty="5"><inv:item>Toner <b>black</b></inv:item></inv:line>
</inv:invoice>"""
HTML = "<html><body><table><tr><td id='no'>A-17</td><td>12,50</td></tr><tr><td>B-2<td>3</table></body></html>"


@pytest.fixture
def env(tmp_path: Path) -> StepEnvironment:
    return StepEnvironment(secrets={"fields_key": KEY, "other_key": OTHER_KEY, "bad_key": "not base64!"})


async def test_xpath_on_xml_with_namespaces(env: StepEnvironment) -> None:
    ns = {"i": "urn:example:invoice"}
    assert (
        await env.run(xpath, {"content": XML, "xpath": "/i:invoice/@number", "namespaces": ns, "first": True})
        == "INV-7"
    )
    assert await env.run(xpath, {"content": XML, "xpath": "//i:item", "namespaces": ns}) == ["Paper", "Toner black"]
    assert await env.run(xpath, {"content": XML, "xpath": "sum(//i:line/@qty)", "namespaces": ns}) == [7.0]
    markup = await env.run(xpath, {"content": XML, "xpath": "//b", "output": "markup"})
    assert markup == ['<b xmlns:inv="urn:example:invoice">black</b>']  # the namespaces in scope go along


async def test_xpath_on_forgiving_html(env: StepEnvironment) -> None:
    assert await env.run(xpath, {"content": HTML, "mode": "html", "xpath": "//td[@id='no']", "first": True}) == "A-17"
    assert await env.run(xpath, {"content": HTML, "mode": "html", "xpath": "//tr/td[1]/text()"}) == ["A-17", "B-2"]
    assert await env.run(xpath, {"content": HTML, "mode": "html", "xpath": "//th", "first": True}) is None


async def test_xpath_refuses_external_entities(env: StepEnvironment, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    evil = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'
    out = await env.run(xpath, {"content": evil, "xpath": "string(/r)"})
    assert "TOP-SECRET" not in str(out)


async def test_xpath_errors(env: StepEnvironment) -> None:
    with pytest.raises(StepError, match="is not a valid XPath expression") as err:
        await env.run(xpath, {"content": XML, "xpath": "//line[@qty="})
    assert err.value.kind == "validation"
    with pytest.raises(BusinessError, match="the XML is not well-formed"):
        await env.run(xpath, {"content": "<a><b></a>", "xpath": "//b"})


async def test_schema_reports_every_error_with_its_path(env: StepEnvironment) -> None:
    schema = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["Item", "Qty"],
            "properties": {"Qty": {"type": "integer", "minimum": 1}, "Item": {"type": "string"}},
        },
    }
    rows = [{"Item": "Paper", "Qty": 2}, {"Item": 3, "Qty": 0}, {"Qty": "x"}]
    out = await env.run(validate_schema, {"data": rows, "schema": schema})
    assert out["valid"] is False
    assert [(e["path"], e["keyword"]) for e in out["errors"]] == [
        ("$[1].Item", "type"),
        ("$[1].Qty", "minimum"),
        ("$[2]", "required"),
        ("$[2].Qty", "type"),
    ]
    assert "'Item' is a required property" in out["errors"][2]["message"]
    assert await env.run(validate_schema, {"data": rows[:1], "schema": schema}) == {"valid": True, "errors": []}
    with pytest.raises(BusinessError, match=r"4 schema error\(s\): \$\[1\]\.Item: 3 is not of type 'string'") as err:
        await env.run(validate_schema, {"data": rows, "schema": schema, "fail": True})
    assert err.value.kind == "schema"
    assert len(err.value.details["errors"]) == 4


async def test_a_broken_schema_is_refused_before_a_run(env: StepEnvironment) -> None:
    with pytest.raises(StepError, match="not a valid JSON Schema") as err:
        await env.run(validate_schema, {"data": 1, "schema": {"type": "integr"}})
    assert err.value.kind == "validation"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"value": 1234.5, "locale": "de_DE", "style": "currency", "currency": "EUR"}, "1.234,50\xa0€"),
        ({"value": 1234.5, "locale": "en_US", "style": "currency", "currency": "USD"}, "$1,234.50"),
        ({"value": "1234567.891", "locale": "fr_FR"}, "1\u202f234\u202f567,891"),
        ({"value": 0.256, "locale": "en_US", "style": "percent"}, "26%"),
        ({"value": 5, "locale": "pt_PT", "pattern": "#,##0.00"}, "5,00"),
    ],
)
async def test_format_number_by_locale(env: StepEnvironment, params: dict[str, object], expected: str) -> None:
    assert await env.run(format_number, params) == expected


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("1.234,50 €", "de_DE", 1234.5),
        ("$1,234.50", "en_US", 1234.5),
        ("EUR 99", "en_GB", 99),
        ("(12.00)", "en_US", -12.0),
        ("1\u202f234,5", "fr_FR", 1234.5),
    ],
)
async def test_parse_number_by_locale(env: StepEnvironment, text: str, locale: str, expected: float) -> None:
    out = await env.run(parse_number, {"text": text, "locale": locale})
    assert out == expected
    assert type(out) is type(expected)


async def test_number_errors(env: StepEnvironment) -> None:
    with pytest.raises(BusinessError, match="'twelve' is not a number in locale en_US"):
        await env.run(parse_number, {"text": "twelve"})
    with pytest.raises(StepError, match="unknown locale 'xx_YY'") as err:
        await env.run(format_number, {"value": 1, "locale": "xx_YY"})
    assert err.value.kind == "validation"


async def test_fields_round_trip_through_aes_gcm(env: StepEnvironment) -> None:
    rows = [{"name": "Ann", "iban": "PT50 0002", "limit": 500}, {"name": "Bo", "iban": None, "limit": 7}]
    sealed = await env.run(encrypt_fields, {"data": rows, "fields": ["iban", "limit"], "key": "fields_key"})
    assert sealed[0]["name"] == "Ann"
    assert sealed[0]["iban"].startswith("aesgcm:v1:")
    assert "PT50" not in str(sealed)
    again = await env.run(encrypt_fields, {"data": rows, "fields": ["iban"], "key": "fields_key"})
    assert again[0]["iban"] != sealed[0]["iban"]  # a fresh nonce each time
    opened = await env.run(decrypt_fields, {"data": sealed, "fields": ["iban", "limit"], "key": "fields_key"})
    assert opened == rows
    one = await env.run(encrypt_fields, {"data": rows[0], "fields": ["iban"], "key": "fields_key"})
    assert (await env.run(decrypt_fields, {"data": one, "fields": ["iban"], "key": "fields_key"}))[
        "iban"
    ] == "PT50 0002"


async def test_a_wrong_key_a_moved_value_or_a_bad_key_is_refused(env: StepEnvironment) -> None:
    sealed = await env.run(encrypt_fields, {"data": {"a": "x", "b": "y"}, "fields": ["a"], "key": "fields_key"})
    with pytest.raises(BusinessError, match="field 'a' cannot be decrypted with the key 'other_key'"):
        await env.run(decrypt_fields, {"data": sealed, "fields": ["a"], "key": "other_key"})
    moved = {"b": sealed["a"]}
    with pytest.raises(BusinessError, match="field 'b' cannot be decrypted"):
        await env.run(decrypt_fields, {"data": moved, "fields": ["b"], "key": "fields_key"})
    with pytest.raises(BusinessError, match="field 'b' is not an encrypted value"):
        await env.run(decrypt_fields, {"data": {"b": "plain"}, "fields": ["b"], "key": "fields_key"})
    with pytest.raises(StepError, match="credential 'bad_key' does not hold an AES key") as err:
        await env.run(encrypt_fields, {"data": {"a": 1}, "fields": ["a"], "key": "bad_key"})
    assert "not base64" not in str(err.value)
