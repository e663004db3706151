"""Params that cannot work are reported before a run, with their JSON path, as `rpa validate`
does; params that are expressions are left for run time."""

from __future__ import annotations

from typing import Any

from shared.flow import validate_document
from shared.steps import StepRegistry


def _problems(node: dict[str, Any]) -> list[tuple[str, str]]:
    document = {"schema": "rpa.flow/1", "name": "v", "nodes": [{"id": "n", **node}], "edges": []}
    return [(p.path, p.message) for p in validate_document(document, StepRegistry.default())]


def test_bad_http_and_db_params_are_reported_with_their_path() -> None:
    bad_url = _problems({"type": "http.request", "params": {"url": "ftp://example.com/x"}})
    assert [path for path, _ in bad_url] == ["$.nodes[0].params.url"]
    assert "http:// or https://" in bad_url[0][1]

    key = _problems(
        {"type": "http.request", "params": {"url": "https://x", "auth": {"kind": "api_key", "credential": "k"}}}
    )
    assert [path for path, _ in key] == ["$.nodes[0].params.auth"]

    password = _problems({"type": "db.query", "params": {"url": "postgresql://u:secret@h/db", "sql": "SELECT 1"}})
    assert [path for path, _ in password] == ["$.nodes[0].params.url"]
    assert "put the password in a credential" in password[0][1]


def test_expressions_are_left_for_run_time() -> None:
    assert _problems({"type": "http.request", "params": {"url": "{{ inputs.url }}"}}) == []
    assert _problems({"type": "db.query", "params": {"url": "{{ inputs.db }}", "sql": "SELECT 1"}}) == []
    assert _problems({"type": "vault.get", "params": {"name": "erp"}}) == []


def _marked(schema: dict[str, Any]) -> set[str]:
    """`Model.field` of every property marked as a credential name, in a params schema."""
    found = set()
    for model, body in [("params", schema), *schema.get("$defs", {}).items()]:
        for name, prop in body.get("properties", {}).items():
            if prop.get("x-rpa-credential"):
                found.add(f"{model}.{name}")
    return found


def test_every_param_holding_a_credential_name_is_marked() -> None:
    registry = StepRegistry.default()
    marked = {name: _marked(registry.get(name).params.model_json_schema()) for name in ("http.request", "db.query")}
    assert marked["http.request"] == {
        "BasicAuth.credential",
        "BearerAuth.credential",
        "ApiKeyAuth.credential",
        "OAuth2ClientCredentials.credential",
        "TlsOptions.client_cert",
        "FilePart.storage_credential",
    }
    assert marked["db.query"] == {"params.credential"}
    assert _marked(registry.get("db.begin").params.model_json_schema()) == {"params.credential"}
    assert _marked(registry.get("vault.get").params.model_json_schema()) == {"params.name"}


def test_a_password_typed_into_a_url_is_not_quoted_back() -> None:
    problems = _problems(
        {"type": "db.query", "params": {"url": "postgresql://robot:s3cret-pw@h/db", "sql": "SELECT 1"}}
    )
    assert [path for path, _ in problems] == ["$.nodes[0].params.url"]
    assert "s3cret-pw" not in problems[0][1]
    assert "robot" not in problems[0][1]
    assert "postgresql://***@h/db" in problems[0][1]
