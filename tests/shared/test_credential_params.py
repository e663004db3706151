"""`find_credential_params`: the credential names a flow writes in step params marked as holding
one, wherever the mark sits in the params model (nested, optional, a list or an object of names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.flow import find_credential_params
from shared.steps import CREDENTIAL_NAME, StepRegistry, step
from shared.steps.builtin import BUILTIN_STEPS


class Basic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["basic"] = "basic"
    credential: str = Field(json_schema_extra=CREDENTIAL_NAME)


class Token(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["token"] = "token"
    credential: str = Field(json_schema_extra=CREDENTIAL_NAME)
    header: str = "Authorization"


class CallParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    auth: Basic | Token | None = None
    proxy_credential: str | None = Field(None, json_schema_extra=CREDENTIAL_NAME)
    passwords: dict[str, str] = Field(default_factory=dict, json_schema_extra=CREDENTIAL_NAME)
    keys: list[str] = Field(default_factory=list, json_schema_extra=CREDENTIAL_NAME)
    note: str = "not a credential"


@step("test.call", params=CallParams)
def call(params: CallParams) -> None:
    """A step that names credentials in several ways."""


REGISTRY = StepRegistry([*BUILTIN_STEPS, call])


def document(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "rpa.flow/1", "name": "f", "nodes": list(nodes), "edges": []}


def test_names_in_marked_params_are_found_with_their_paths() -> None:
    found = find_credential_params(
        document(
            {
                "id": "a",
                "type": "test.call",
                "params": {
                    "url": "https://x",
                    "auth": {"kind": "token", "credential": "erp.api_key"},
                    "proxy_credential": "proxy",
                    "passwords": {"a.pdf": "pdf-a", "b.pdf": "{{ inputs.which }}"},
                    "keys": ["k1", "k2"],
                    "note": "erp",
                },
            }
        ),
        REGISTRY,
    )
    assert found == {
        "erp.api_key": [("nodes", 0, "params", "auth", "credential")],
        "proxy": [("nodes", 0, "params", "proxy_credential")],
        "pdf-a": [("nodes", 0, "params", "passwords", "a.pdf")],
        "k1": [("nodes", 0, "params", "keys", 0)],
        "k2": [("nodes", 0, "params", "keys", 1)],
    }


def test_nested_graphs_expressions_and_unknown_steps() -> None:
    inner = {"id": "in", "type": "test.call", "params": {"url": "u", "auth": {"kind": "basic", "credential": "db"}}}
    found = find_credential_params(
        document(
            {"id": "loop", "type": "control.foreach", "params": {"items": [1]}, "body": document(inner)},
            {"id": "dyn", "type": "test.call", "params": {"url": "u", "proxy_credential": "{{ inputs.proxy }}"}},
            {"id": "odd", "type": "not.a.step", "params": {"credential": "x"}},
            {"id": "bad", "type": "test.call", "params": "{{ inputs.params }}"},
        ),
        REGISTRY,
    )
    assert found == {"db": [("nodes", 0, "body", "nodes", 0, "params", "auth", "credential")]}
