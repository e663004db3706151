"""Fixtures of the `http.*` tests: one plain and one mutual-TLS server for the whole module."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.expressions import flatten_credentials
from shared.steps import StepEnvironment
from tests.agent.steps.http import server as srv
from tests.agent.steps.http.tls import Pki, make_pki

CREDENTIALS = {
    "site": {"username": srv.USER, "password": srv.PASSWORD},
    "api": {"token": srv.TOKEN},
    "key": {"token": srv.API_KEY},
    "oauth": {"client_id": srv.CLIENT_ID, "client_secret": srv.CLIENT_SECRET},
}


@pytest.fixture(scope="module")
def server() -> Iterator[srv.LoopbackSite]:
    running = srv.LoopbackSite()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[srv.LoopbackSite]:
    running = srv.LoopbackSite(
        ssl_options={
            "ssl_certfile": str(pki.server_cert),
            "ssl_keyfile": str(pki.server_key),
            "ssl_ca_certs": str(pki.ca_file),
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def env(tmp_path: Path, pki: Pki) -> AsyncIterator[StepEnvironment]:
    credentials = {**CREDENTIALS, "robot_cert": {"cert": pki.client_cert_pem, "key": pki.client_key_pem}}
    environment = StepEnvironment(secrets=flatten_credentials(credentials), artifacts_dir=tmp_path / "artifacts")
    try:
        yield environment
    finally:
        await environment.aclose()
