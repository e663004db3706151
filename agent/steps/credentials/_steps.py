"""`vault.get`, `keyring.get`, `keyring.set`: secrets handed to a flow, masked wherever they go.

A value read here is added to the execution's masker before the step returns it, so events,
logs and errors show `***` in its place. That includes the step's own journaled output: a run
that resumes after this node read `***` from the journal instead of the value, which is why
templates (`{{ secrets.NAME }}`) and steps that take a credential *name* are the better way to
use a vault credential; `vault.get` is for the steps that only take a value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.steps.credentials._keyring import map_keyring_errors, usable_keyring
from shared.errors import StepError
from shared.steps import CREDENTIAL_NAME, context, step


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VaultGetParams(_Model):
    name: str = Field(
        json_schema_extra=CREDENTIAL_NAME, min_length=1, pattern=r"^[^.\s]+$", description="The credential's name."
    )
    field: str | None = Field(
        default=None, min_length=1, description="One field (e.g. `username`); the main value when empty."
    )


class KeyringGetParams(_Model):
    service: str = Field(min_length=1, description="The keyring service, e.g. `erp`.")
    username: str = Field(min_length=1, description="The account name within the service.")
    required: bool = Field(default=True, description="Fail when there is no such entry (else output null).")


class KeyringSetParams(_Model):
    service: str = Field(min_length=1, description="The keyring service, e.g. `erp`.")
    username: str = Field(min_length=1, description="The account name within the service.")
    value: str = Field(min_length=1, description="The secret to store (e.g. `{{ secrets.erp }}`), never literal.")


@step(
    "vault.get",
    params=VaultGetParams,
    output="The credential's value (masked as *** in every event, log and error).",
    effects=False,
)
def vault_get(params: VaultGetParams) -> str:
    """Read a credential delivered with the job, by name, or one of its fields.

    The value is masked everywhere, including this step's journaled output: after a resume,
    later steps see `***`. Prefer `{{ secrets.NAME }}` in templates, or a step's `credential`
    param; use this for steps that only take a value.

    Example node:
        {"id": "pw", "type": "vault.get", "params": {"name": "erp", "field": "username"}}
    """
    name = params.name if params.field is None else f"{params.name}.{params.field}"
    value = context().secret(name)
    context().add_secret(value)
    return value


@step(
    "keyring.get",
    params=KeyringGetParams,
    output="The stored secret (masked as *** in every event, log and error), or null.",
    effects=False,
)
def keyring_get(params: KeyringGetParams) -> str | None:
    """Read a secret from the OS keyring of the user the agent runs as.

    For attended robots whose user keeps their own passwords in the desktop's keyring. The
    value is masked like a vault credential (see `vault.get` about resumes).

    Example node:
        {"id": "pw", "type": "keyring.get", "params": {"service": "erp", "username": "ann"}}
    """
    backend = usable_keyring(writing=False)
    with map_keyring_errors(params.service):
        value = backend.get_password(params.service, params.username)
    if value is None:
        if params.required:
            raise StepError(
                f"the OS keyring has no secret for service '{params.service}', user '{params.username}'",
                kind="credential",
                retryable=False,
            )
        return None
    context().add_secret(value)
    return str(value)


@step("keyring.set", params=KeyringSetParams, output="{service, username, stored: true}.")
def keyring_set(params: KeyringSetParams) -> dict[str, Any]:
    """Store a secret in the OS keyring of the agent's user (a plaintext keyring is refused).

    Example node:
        {"id": "keep", "type": "keyring.set", "params": {"service": "erp", "username": "ann",
         "value": "{{ steps.new_password.output }}"}}
    """
    context().add_secret(params.value)
    backend = usable_keyring(writing=True)
    with map_keyring_errors(params.service):
        backend.set_password(params.service, params.username, params.value)
    return {"service": params.service, "username": params.username, "stored": True}


CREDENTIAL_STEPS = (vault_get, keyring_get, keyring_set)
