"""Cookies and storage: save a session's storage state, restore it, clear it.

A saved state is a login: it is written either to a file the flow names (created 0600) or, with
`credential`, encrypted (AES-256-GCM, key derived by scrypt from the credential's value) so it
can travel as an artifact without being readable.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from agent.steps.browser._acting import acting
from agent.steps.browser._models import PageParams
from shared.errors import MissingDependency, StepError
from shared.steps import CREDENTIAL_NAME, context, step

__all__ = ["clear_storage", "decrypt_state", "encrypt_state", "get_cookies", "restore_storage", "save_storage"]

SEALED_FORMAT = "rpa.browser-storage/1"


def _key(passphrase: str, salt: bytes) -> bytes:
    try:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    except ImportError:
        raise MissingDependency("cryptography", extra="browser") from None
    return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(passphrase.encode())


def encrypt_state(state: dict[str, Any], passphrase: str) -> bytes:
    """A storage state sealed with AES-256-GCM under a key derived from `passphrase`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_key(passphrase, salt)).encrypt(nonce, json.dumps(state).encode(), SEALED_FORMAT.encode())
    doc = {"format": SEALED_FORMAT, "kdf": "scrypt-n14-r8-p1", "salt": salt, "nonce": nonce, "data": sealed}
    return json.dumps({k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in doc.items()}).encode()


def decrypt_state(blob: bytes, passphrase: str) -> dict[str, Any]:
    """The storage state inside a sealed file.

    Raises:
        StepError: kind `invalid_file` when the file is not sealed state or the key is wrong.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        doc = json.loads(blob)
        salt, nonce, data = (base64.b64decode(doc[k]) for k in ("salt", "nonce", "data"))
        if doc.get("format") != SEALED_FORMAT:
            raise ValueError(doc.get("format"))
        plain = AESGCM(_key(passphrase, salt)).decrypt(nonce, data, SEALED_FORMAT.encode())
    except InvalidTag:
        raise StepError(
            "the storage state cannot be opened with that credential", kind="invalid_file", retryable=False
        ) from None
    except (ValueError, KeyError, TypeError):
        raise StepError("the file is not a sealed storage state", kind="invalid_file", retryable=False) from None
    state: dict[str, Any] = json.loads(plain)
    return state


class SaveStorageParams(PageParams):
    """Params of `browser.save_storage`: a `path`, or a `credential` (sealed artifact), or both."""

    path: str | None = Field(None, description="File to write (created 0600); sealed too when `credential` is given.")
    credential: str | None = Field(
        None,
        json_schema_extra=CREDENTIAL_NAME,
        description="Seal the state with this credential's value (AES-256-GCM), e.g. `erp.storage_key`.",
    )
    name: str = Field("storage-state.json", description="Artifact name when no path is given.")

    @model_validator(mode="after")
    def _somewhere(self) -> SaveStorageParams:
        if self.path is None and self.credential is None:
            raise ValueError("give a path, or a credential to seal the state as an artifact")
        return self


def _write_private(where: str, data: bytes) -> str:
    path = Path(where).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    return str(path)


@step(
    "browser.save_storage", params=SaveStorageParams, output="{path, artifact, cookies, origins}", capability="browser"
)
async def save_storage(params: SaveStorageParams) -> dict[str, Any]:
    """Save the session's cookies and local storage (log in once, reuse it in later runs).

    Example node:
        {"id": "keep_login", "type": "browser.save_storage", "params": {"path": "state/erp.json"}}
    """
    async with acting(params, "save the storage state", checkpoint=False) as act:
        state: dict[str, Any] = dict(await act.session.context.storage_state())
    data = (
        encrypt_state(state, context().secret(params.credential)) if params.credential else json.dumps(state).encode()
    )
    result: dict[str, Any] = {
        "path": None,
        "artifact": None,
        "cookies": len(state["cookies"]),
        "origins": len(state["origins"]),
    }
    if params.path:
        result["path"] = _write_private(params.path, data)
    else:
        result["artifact"] = context().save_artifact(params.name, data, content_type="application/json")["artifact"]
    return result


class RestoreStorageParams(PageParams):
    """Params of `browser.restore_storage`."""

    path: str = Field(description="A file written by `browser.save_storage`.")
    credential: str | None = Field(
        None, json_schema_extra=CREDENTIAL_NAME, description="The credential it was sealed with, if any."
    )
    reload: bool = Field(True, description="Reload the active tab so the site sees the restored login.")


@step("browser.restore_storage", params=RestoreStorageParams, output="{cookies, origins}", capability="browser")
async def restore_storage(params: RestoreStorageParams) -> dict[str, Any]:
    """Load cookies and local storage saved by `browser.save_storage` into the session.

    Example node:
        {"id": "reuse_login", "type": "browser.restore_storage", "params": {"path": "state/erp.json"}}
    """
    blob = _read_file(params.path)
    if params.credential:
        state = decrypt_state(blob, context().secret(params.credential))
    else:
        try:
            state = json.loads(blob)
        except ValueError:
            raise StepError(
                f"{params.path} is not a storage state (JSON)", kind="invalid_file", retryable=False
            ) from None
    if not isinstance(state, dict) or "cookies" not in state:
        raise StepError(f"{params.path} is not a storage state", kind="invalid_file", retryable=False)
    async with acting(params, "restore the storage state") as act:
        await act.session.context.add_cookies(state.get("cookies", []))
        for origin in state.get("origins", []):
            await act.session.context.add_init_script(_local_storage_script(origin))
        if params.reload and act.page.url.startswith("http"):
            await act.page.reload(timeout=params.timeout_s * 1000)
    return {"cookies": len(state.get("cookies", [])), "origins": len(state.get("origins", []))}


def _local_storage_script(origin: dict[str, Any]) -> str:
    items = {item["name"]: item["value"] for item in origin.get("localStorage", [])}
    return (
        f"if (location.origin === {json.dumps(origin.get('origin'))}) {{"
        f" const items = {json.dumps(items)};"
        " for (const [k, v] of Object.entries(items)) {"
        " if (localStorage.getItem(k) === null) localStorage.setItem(k, v); } }"
    )


def _read_file(where: str) -> bytes:
    try:
        return Path(where).expanduser().read_bytes()
    except OSError as exc:
        raise StepError(
            f"cannot read storage state {where}: {exc.strerror}", kind="file_not_found", retryable=False
        ) from None


class ClearStorageParams(PageParams):
    """Params of `browser.clear_storage`."""

    cookies: bool = Field(True, description="Delete every cookie of the session.")
    local_storage: bool = Field(True, description="Empty local and session storage of the active tab's site.")


@step("browser.clear_storage", params=ClearStorageParams, output="None", capability="browser")
async def clear_storage(params: ClearStorageParams) -> None:
    """Forget cookies and storage (log out everywhere at once).

    Example node:
        {"id": "logout", "type": "browser.clear_storage", "params": {}}
    """
    async with acting(params, "clear the storage") as act:
        if params.cookies:
            await act.session.context.clear_cookies()
        if params.local_storage and act.page.url.startswith("http"):
            await act.page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")


class CookiesParams(PageParams):
    """Params of `browser.get_cookies`."""

    url: str | None = Field(None, description="Only the cookies sent to this URL.")


@step(
    "browser.get_cookies",
    params=CookiesParams,
    output="[{name, domain, path, expires, http_only, secure}]",
    capability="browser",
    effects=False,
)
async def get_cookies(params: CookiesParams) -> list[dict[str, Any]]:
    """List the session's cookies by name and scope (their values are left out: they are logins).

    Example node:
        {"id": "cookies", "type": "browser.get_cookies", "params": {"url": "https://erp.example"}}
    """
    async with acting(params, "read the cookies", checkpoint=False) as act:
        found = await act.session.context.cookies(params.url) if params.url else await act.session.context.cookies()
    return [
        {
            "name": c["name"],
            "domain": c["domain"],
            "path": c["path"],
            "expires": c["expires"],
            "http_only": c["httpOnly"],
            "secure": c["secure"],
        }
        for c in found
    ]
