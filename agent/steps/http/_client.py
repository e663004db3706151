"""One `httpx.AsyncClient` per execution and TLS setting, kept in the execution's resources.

Connections are reused across the steps of an execution (a paginated API, a loop of calls)
and closed by the engine when the execution ends. A client certificate comes from the vault as
PEM text; `ssl` only loads a chain from files, so it is written to a private temporary folder,
loaded, and deleted at once.
"""

from __future__ import annotations

import functools
import hashlib
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

from agent.steps.http._errors import import_httpx
from agent.steps.http._models import TlsOptions
from shared.errors import StepError
from shared.steps import context

RESOURCE_PREFIX = "http:client:"


def _new_context(verify: bool, ca_bundle: str | None) -> ssl.SSLContext:
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise StepError(f"the CA bundle {ca_bundle} does not exist", kind="validation", retryable=False)
    ctx = ssl.create_default_context(cafile=ca_bundle)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@functools.lru_cache(maxsize=32)
def _shared_context(verify: bool, ca_bundle: str | None) -> ssl.SSLContext:
    # Loading the system's CA certificates takes tens of milliseconds; a context without a
    # client key holds nothing secret and is safe to share between executions.
    return _new_context(verify, ca_bundle)


def _ssl_context(tls: TlsOptions) -> ssl.SSLContext | bool:
    if not tls.verify and tls.client_cert is None:
        return False
    if tls.client_cert is None:
        return _shared_context(tls.verify, tls.ca_bundle)
    ctx = _new_context(tls.verify, tls.ca_bundle)
    _load_client_cert(ctx, tls.client_cert)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, credential: str) -> None:
    ctx_step = context()
    cert = ctx_step.secret(f"{credential}.cert")
    key = ctx_step.secret(f"{credential}.key")
    with tempfile.TemporaryDirectory(prefix="rpa-tls-") as folder:
        os.chmod(folder, 0o700)
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        for target, text in ((cert_file, cert), (key_file, key)):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        try:
            ctx.load_cert_chain(cert_file, key_file)
        except ssl.SSLError as exc:
            raise StepError(
                f"the client certificate in credential '{credential}' cannot be loaded ({exc.reason})",
                kind="credential",
                retryable=False,
            ) from None


def _key(tls: TlsOptions) -> str:
    return _key_of(tls.verify, tls.ca_bundle, tls.client_cert)


@functools.lru_cache(maxsize=256)
def _key_of(verify: bool, ca_bundle: str | None, client_cert: str | None) -> str:
    # The credential's name and the bundle's path identify the setting; no secret goes in the key.
    # Cached: it was hashed again for every request of every execution.
    raw = f"{verify}|{ca_bundle}|{client_cert}"
    return RESOURCE_PREFIX + hashlib.sha256(raw.encode()).hexdigest()[:16]


def client_for(tls: TlsOptions) -> Any:
    """The execution's `httpx.AsyncClient` for this TLS setting, opened on first use."""
    httpx = import_httpx()
    ctx = context()
    key = _key(tls)
    client = ctx.resources.get(key)
    if client is None:
        client = httpx.AsyncClient(
            verify=_ssl_context(tls),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            trust_env=False,
        )
        ctx.resources.put(key, client, close=lambda c: c.aclose())
    return client
