"""Request and response bodies of the credential vault.

A value goes in (create, rotate) and never comes out: `CredentialPublic` is metadata only.
The value's shape depends on the credential's kind (`VALUE_MODELS`); it is checked by the
service against the kind, so an error names the field (`value.password`) and never echoes it.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

_Strict = ConfigDict(extra="forbid")

MAX_FILE_BYTES = 1024 * 1024
MAX_TEXT = 16 * 1024


class CredentialKind(StrEnum):
    USERNAME_PASSWORD = "username_password"
    TOKEN = "token"
    KEY_VALUE = "key_value"
    FILE = "file"


class UsernamePasswordValue(BaseModel):
    model_config = _Strict

    username: str = Field(min_length=1, max_length=1024)
    password: str = Field(min_length=1, max_length=MAX_TEXT)


class TokenValue(BaseModel):
    model_config = _Strict

    token: str = Field(min_length=1, max_length=MAX_TEXT)


class KeyValueValue(BaseModel):
    model_config = _Strict

    values: dict[str, str] = Field(min_length=1, max_length=100)

    @field_validator("values")
    @classmethod
    def _sane(cls, values: dict[str, str]) -> dict[str, str]:
        for key, value in values.items():
            if not key or len(key) > 200:
                raise ValueError("each key must have 1 to 200 characters")
            if len(value) > MAX_TEXT:
                raise ValueError(f"the value of '{key}' is longer than {MAX_TEXT} characters")
        return values


class FileValue(BaseModel):
    model_config = _Strict

    filename: str = Field(min_length=1, max_length=255)
    content_base64: str = Field(min_length=1, max_length=4 * (MAX_FILE_BYTES // 3 + 1))

    @field_validator("content_base64")
    @classmethod
    def _decodes(cls, content: str) -> str:
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64") from None
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(f"the file is larger than {MAX_FILE_BYTES} bytes")
        return content


VALUE_MODELS: dict[CredentialKind, type[BaseModel]] = {
    CredentialKind.USERNAME_PASSWORD: UsernamePasswordValue,
    CredentialKind.TOKEN: TokenValue,
    CredentialKind.KEY_VALUE: KeyValueValue,
    CredentialKind.FILE: FileValue,
}

_VALUE_DOC = (
    "The secret, by kind: username_password {username, password}; token {token}; "
    "key_value {values: {key: value}}; file {filename, content_base64} (at most 1 MiB). "
    "Never returned by the API."
)
Labels = dict[str, str]


def _check_labels(labels: Labels) -> Labels:
    if len(labels) > 50:
        raise ValueError("at most 50 labels")
    for key, value in labels.items():
        if not key or len(key) > 100 or len(value) > 500:
            raise ValueError("a label key has 1 to 100 characters and its value at most 500")
    return labels


class CredentialAccess(BaseModel):
    """Who may use a credential. A member may publish or start a flow that reads it only with one
    of `roles`, and only for a workflow within its scope (listed by id, or in one of the
    categories, or carrying one of the tags; all three empty: every workflow)."""

    model_config = _Strict

    roles: list[str] = Field(
        default_factory=lambda: ["owner", "admin"],
        max_length=50,
        description="Role names whose members may use it; `*` for every role.",
    )
    workflows: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    categories: list[str] = Field(default_factory=list, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("roles", "categories", "tags")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(name.strip() for name in names))
        if any(not name or len(name) > 100 for name in cleaned):
            raise ValueError("each name has 1 to 100 characters")
        return cleaned


class CredentialCreate(BaseModel):
    model_config = _Strict

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="How flows refer to it (`secrets.<name>`); unique in the organisation.",
    )
    kind: CredentialKind
    description: str = Field(default="", max_length=1000)
    value: dict[str, Any] = Field(description=_VALUE_DOC)
    metadata: Labels = Field(default_factory=dict, description="Non-secret labels; never put a secret here.")
    access: CredentialAccess = Field(
        default_factory=CredentialAccess, description="Who may use it (default: owners and admins, every workflow)."
    )

    @field_validator("metadata")
    @classmethod
    def _labels(cls, labels: Labels) -> Labels:
        return _check_labels(labels)


class CredentialUpdate(BaseModel):
    model_config = _Strict

    description: str | None = Field(default=None, max_length=1000)
    metadata: Labels | None = Field(default=None, description="Replaces the labels.")
    access: CredentialAccess | None = Field(default=None, description="Replaces who may use it.")

    @field_validator("metadata")
    @classmethod
    def _labels(cls, labels: Labels | None) -> Labels | None:
        return None if labels is None else _check_labels(labels)


class CredentialRotate(BaseModel):
    model_config = _Strict

    value: dict[str, Any] = Field(description=_VALUE_DOC)


class CredentialPublic(BaseModel):
    """A credential's metadata. There is no field for its value."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    kind: CredentialKind
    description: str
    metadata: Labels = Field(validation_alias=AliasChoices("labels", "metadata"))
    access: CredentialAccess
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None
    created_by: uuid.UUID | None
