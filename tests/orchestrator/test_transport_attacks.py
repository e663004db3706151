"""Attacks on the transport of a real `rpa orchestrator` (uvicorn on 127.0.0.1): forged client
addresses, oversized bodies, fingerprinting. Each with its control first."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from orchestrator.api.client_address import client_address
from tests.orchestrator._live import live_server

LOGIN = "/api/v1/auth/login"


def _logins_with_forged_addresses(url: str, count: int) -> list[int]:
    """`count` failed logins from loopback, each claiming another client address."""
    statuses = []
    with httpx.Client(base_url=url) as client:
        for index in range(count):
            response = client.post(LOGIN, json={"email": "nobody@example.com", "password": "wrong-password-1"},
                                   headers={"X-Forwarded-For": f"203.0.113.{index + 1}"})
            statuses.append(response.status_code)
    return statuses


def test_a_forged_forwarded_for_is_believed_only_from_a_configured_proxy(tmp_path: Path) -> None:
    # Control: loopback named as the trusted proxy, each forged address has its own login budget.
    with live_server(tmp_path / "trusting", login_rate_limit_per_minute="3",
                     trusted_proxies='["127.0.0.1"]') as server:
        assert 429 not in _logins_with_forged_addresses(server.url, 6)
    # The attack: by default no proxy is trusted, loopback included; every login counts against
    # the real peer, and the fourth is refused whatever address it claims.
    with live_server(tmp_path / "default", login_rate_limit_per_minute="3") as server:
        assert _logins_with_forged_addresses(server.url, 6) == [401, 401, 401, 429, 429, 429]


@pytest.mark.parametrize(("peer", "header", "trusted", "expected"), [
    ("127.0.0.1", "203.0.113.9", (), "127.0.0.1"),
    ("127.0.0.1", "203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
    ("10.0.0.7", "203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
    ("198.51.100.1", "203.0.113.9", ("10.0.0.0/8",), "198.51.100.1"),
    # a client that writes its own header through a trusted proxy: the proxy's hop is believed
    ("127.0.0.1", "6.6.6.6, 203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
    ("127.0.0.1", "203.0.113.9, 10.0.0.2", ("127.0.0.1", "10.0.0.0/8"), "203.0.113.9"),
    ("127.0.0.1", "not-an-ip", ("127.0.0.1",), "127.0.0.1"),
    ("127.0.0.1", "", ("127.0.0.1",), "127.0.0.1"),
])
def test_the_client_address_is_the_rightmost_untrusted_hop(peer: str, header: str, trusted: tuple[str, ...],
                                                           expected: str) -> None:
    assert client_address(peer, header, trusted) == expected
