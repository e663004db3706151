"""`data.encrypt_fields` / `data.decrypt_fields`: AES-GCM on chosen fields, the key from the vault.

The key is a credential holding 16, 24 or 32 random bytes in base64 (`openssl rand -base64 32`).
Each value is encrypted with a fresh 96-bit nonce and the field's name as associated data, so a
ciphertext moved to another field does not decrypt. An encrypted value is text:
`aesgcm:v1:<base64(nonce + ciphertext + tag)>`; the original JSON type comes back on decryption.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from importlib.util import find_spec
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BusinessError, MissingDependency, StepError
from shared.steps import CREDENTIAL_NAME, context, step

PREFIX = "aesgcm:v1:"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldsParams(_Params):
    data: dict[str, Any] | list[dict[str, Any]] = Field(description="An object, or a table (list of objects).")
    fields: list[str] = Field(min_length=1, description="Names of the fields to encrypt or decrypt.")
    key: str = Field(
        json_schema_extra=CREDENTIAL_NAME,
        min_length=1,
        description="Name of the credential holding the base64 AES key (16/24/32 bytes).",
    )


def _cipher(credential: str) -> Any:
    if find_spec("cryptography") is None:
        raise MissingDependency("cryptography (AES-GCM)", extra="data")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(context().secret(credential), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) not in (16, 24, 32):
        raise StepError(
            f"credential '{credential}' does not hold an AES key: 16, 24 or 32 bytes in base64 are needed",
            kind="credential",
            retryable=False,
        )
    return AESGCM(raw)


def _rows(data: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(data)] if isinstance(data, dict) else [dict(row) for row in data]


def _shape(original: dict[str, Any] | list[dict[str, Any]], rows: list[dict[str, Any]]) -> Any:
    return rows[0] if isinstance(original, dict) else rows


@step(
    "data.encrypt_fields", params=FieldsParams, output="The same object or table, the fields encrypted.", effects=False
)
def encrypt_fields(params: FieldsParams) -> Any:
    """Encrypt chosen fields of an object or table with AES-GCM (key from a credential).

    Example node:
        {"id": "protect", "type": "data.encrypt_fields",
         "params": {"data": "{{ steps.customers.output }}", "fields": ["iban"], "key": "fields_key"}}
    """
    aes = _cipher(params.key)
    rows = _rows(params.data)
    for row in rows:
        for name in params.fields:
            if name in row:
                nonce = os.urandom(12)
                sealed = aes.encrypt(nonce, json.dumps(row[name]).encode("utf-8"), name.encode("utf-8"))
                row[name] = PREFIX + base64.b64encode(nonce + sealed).decode("ascii")
    return _shape(params.data, rows)


@step(
    "data.decrypt_fields", params=FieldsParams, output="The same object or table, the fields decrypted.", effects=False
)
def decrypt_fields(params: FieldsParams) -> Any:
    """Decrypt fields encrypted by `data.encrypt_fields` (same key credential).

    Example node:
        {"id": "reveal", "type": "data.decrypt_fields",
         "params": {"data": "{{ steps.protect.output }}", "fields": ["iban"], "key": "fields_key"}}
    """
    from cryptography.exceptions import InvalidTag

    aes = _cipher(params.key)
    rows = _rows(params.data)
    for index, row in enumerate(rows):
        for name in params.fields:
            value = row.get(name)
            if value is None:
                continue
            where = f"field '{name}'" + (f" of row {index}" if isinstance(params.data, list) else "")
            if not (isinstance(value, str) and value.startswith(PREFIX)):
                raise BusinessError(f"{where} is not an encrypted value", kind="data")
            try:
                blob = base64.b64decode(value[len(PREFIX) :], validate=True)
                plain = aes.decrypt(blob[:12], blob[12:], name.encode("utf-8"))
            except (InvalidTag, binascii.Error, ValueError):
                raise BusinessError(
                    f"{where} cannot be decrypted with the key '{params.key}' (wrong key, or the value was altered)",
                    kind="data",
                ) from None
            row[name] = json.loads(plain)
    return _shape(params.data, rows)
