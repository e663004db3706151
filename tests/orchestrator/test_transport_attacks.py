"""Attacks on the transport of a real `rpa orchestrator` (uvicorn on 127.0.0.1): forged client
addresses, oversized bodies, fingerprinting. Each with its control first."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.api.client_address import client_address
from tests.orchestrator._live import Live, env_for, live_server, rpa

LOGIN = "/api/v1/auth/login"


def _logins_with_forged_addresses(url: str, count: int) -> list[int]:
    """`count` failed logins from loopback, each claiming another client address."""
    statuses = []
    with httpx.Client(base_url=url) as client:
        for index in range(count):
            response = client.post(
                LOGIN,
                json={"email": "nobody@example.com", "password": "wrong-password-1"},
                headers={"X-Forwarded-For": f"203.0.113.{index + 1}"},
            )
            statuses.append(response.status_code)
    return statuses


def test_a_forged_forwarded_for_is_believed_only_from_a_configured_proxy(tmp_path: Path) -> None:
    # Control: loopback named as the trusted proxy, each forged address has its own login budget.
    with live_server(tmp_path / "trusting", login_rate_limit_per_minute="3", trusted_proxies='["127.0.0.1"]') as server:
        assert 429 not in _logins_with_forged_addresses(server.url, 6)
    # The attack: by default no proxy is trusted, loopback included; every login counts against
    # the real peer, and the fourth is refused whatever address it claims.
    with live_server(tmp_path / "default", login_rate_limit_per_minute="3") as server:
        assert _logins_with_forged_addresses(server.url, 6) == [401, 401, 401, 429, 429, 429]


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        ("127.0.0.1", "203.0.113.9", (), "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
        ("10.0.0.7", "203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
        ("198.51.100.1", "203.0.113.9", ("10.0.0.0/8",), "198.51.100.1"),
        # a client that writes its own header through a trusted proxy: the proxy's hop is believed
        ("127.0.0.1", "6.6.6.6, 203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
        ("127.0.0.1", "203.0.113.9, 10.0.0.2", ("127.0.0.1", "10.0.0.0/8"), "203.0.113.9"),
        ("127.0.0.1", "not-an-ip", ("127.0.0.1",), "127.0.0.1"),
        ("127.0.0.1", "", ("127.0.0.1",), "127.0.0.1"),
    ],
)
def test_the_client_address_is_the_rightmost_untrusted_hop(
    peer: str, header: str, trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(peer, header, trusted) == expected


# --- body limits ------------------------------------------------------------------------------

MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One real server with an owner, for the attacks that need no settings of their own."""
    with live_server(tmp_path_factory.mktemp("live"), owner=True) as live:
        yield live


def _raw(url: str, head: str, body_chunks: Iterator[bytes] = iter(())) -> tuple[int, dict[str, Any], int]:
    """Send `head` and then as many `body_chunks` as the server takes before it answers; returns
    (status, JSON body, bytes of body sent)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                sock.setblocking(True)
                sock.sendall(chunk)
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            finally:
                sock.setblocking(False)
        sock.setblocking(True)
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head_part, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1]) if head_part else 0
    try:
        parsed = json.loads(body[: _length(answer)] or b"{}")
    except ValueError:
        parsed = {}
    return status, parsed, sent


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _chunked(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    piece = b"x" * size
    for _ in range(total // size):
        yield b"%x\r\n%s\r\n" % (size, piece)
    yield b"0\r\n\r\n"


def test_a_declared_oversized_body_is_refused_before_it_is_sent(server: Live) -> None:
    body = json.dumps({"email": "nobody@example.com", "password": "wrong-password-1"})
    control = httpx.post(f"{server.url}{LOGIN}", content=body, headers={"Content-Type": "application/json"})
    assert control.status_code == 401  # a login is read and answered
    head = f"POST {LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {100 * MB}\r\n\r\n"
    status, answer, sent = _raw(server.url, head)
    assert (status, sent) == (413, 0)
    assert answer["error"]["code"] == "too_large"
    assert answer["error"]["request_id"]
    assert answer["error"]["details"] == {"limit": 16 * 1024}


def test_a_chunked_oversized_body_is_refused_while_it_streams(server: Live) -> None:
    head = (
        "POST /api/v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    status, answer, sent = _raw(server.url, head, _chunked(100 * MB))
    assert status == 413
    assert answer["error"]["code"] == "too_large"
    assert sent < 20 * MB  # refused long before the end (what the socket buffers took is all it read)


def test_an_authenticated_flow_body_has_its_own_limit(server: Live) -> None:
    headers = server.login()
    document = {"schema": "rpa.flow/1", "name": "big", "nodes": [], "edges": [], "description": "x" * (512 * 1024)}
    control = httpx.post(
        f"{server.url}/api/v1/workflows", json={"name": "big", "document": document}, headers=headers, timeout=30
    )
    assert control.status_code != 413, control.text  # 512 KiB: above the default limit, within a flow's
    document["description"] = "x" * (5 * MB)
    too_big = httpx.post(
        f"{server.url}/api/v1/workflows", json={"name": "big", "document": document}, headers=headers, timeout=30
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["details"] == {"limit": 4 * MB}
    chunked = httpx.post(
        f"{server.url}/api/v1/workflows",
        headers=headers,
        timeout=30,
        content=iter([json.dumps({"name": "big", "document": document}).encode()]),
    )
    assert chunked.status_code == 413


def test_concurrent_huge_unauthenticated_bodies_do_not_grow_the_server(server: Live) -> None:
    before = server.rss_kib()
    declared = (
        f"POST /api/v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * MB}\r\n\r\n"
    )
    chunked = (
        "POST /api/v1/executions/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    attacks = [
        (declared, _chunked(100 * MB)),
        (declared, _chunked(100 * MB)),
        (chunked, _chunked(100 * MB)),
        (chunked, _chunked(100 * MB)),
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda attack: _raw(server.url, *attack), attacks))
    grown = server.rss_kib() - before
    assert grown < 32 * 1024, f"the server grew by {grown} KiB"
    assert [status for status, _answer, _sent in results] == [413] * 4


# --- integer bounds ---------------------------------------------------------------------------

HUGE = 2**63


@pytest.mark.parametrize(
    ("method", "path", "params", "headers", "body"),
    [
        ("POST", "/api/v1/executions", {}, {}, {"workflow_id": "{wf}", "version": "{n}"}),
        ("POST", "/api/v1/executions/batch", {}, {}, {"items": [{"workflow_id": "{wf}", "version": "{n}"}]}),
        ("GET", "/api/v1/executions/{ex}/events", {"after_seq": "{n}"}, {}, None),
        ("GET", "/api/v1/executions/{ex}/stream", {"after_seq": "{n}"}, {}, None),
        ("GET", "/api/v1/executions/{ex}/stream", {}, {"Last-Event-ID": "{n}"}, None),
    ],
)
def test_integers_past_their_column_are_refused_not_a_500(
    server: Live, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: Any
) -> None:
    auth = server.login()
    ids = {"wf": "00000000-0000-4000-8000-000000000001", "ex": "00000000-0000-4000-8000-000000000002"}

    def send(number: int) -> httpx.Response:
        def fill(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            if value == "{n}":
                return number
            return value.format(**ids) if isinstance(value, str) else value

        return httpx.request(
            method,
            server.url + path.format(**ids),
            json=fill(body),
            params={k: str(fill(v)) for k, v in params.items()},
            headers={**auth, **{k: str(fill(v)) for k, v in headers.items()}},
            timeout=30,
        )

    control = send(5)
    assert control.status_code == 404, control.text  # a sane number reaches the logic: no such object
    for number in (HUGE, 2**64, 10**30):
        attack = send(number)
        assert attack.status_code == 422, attack.text
        assert attack.json()["error"]["code"] == "invalid"


# --- headers, fingerprints, docs and metrics ---------------------------------------------------


def test_every_answer_carries_security_headers_and_no_server_name(server: Live) -> None:
    owner = server.login()
    answers = [
        httpx.get(f"{server.url}/healthz"),
        httpx.get(f"{server.url}/metrics"),
        httpx.get(f"{server.url}/api/v1/auth/me", headers=owner),
        httpx.get(f"{server.url}/api/v1/auth/me"),
        httpx.get(f"{server.url}/no/such/page"),
        httpx.post(f"{server.url}{LOGIN}", content=b"x" * (64 * 1024), headers={"Content-Type": "application/json"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 401, 404, 413]
    for answer in answers:
        assert "server" not in answer.headers, answer.headers
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'sha256-" in script_src
    assert "unsafe" not in script_src
    assert "frame-ancestors 'none'" in policy


def test_metrics_and_docs_can_require_credentials(tmp_path: Path) -> None:
    token = "m" * 40
    with live_server(tmp_path, owner=True, metrics_token=token, api_docs="authenticated") as server:
        owner = server.login()
        assert httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(f"{server.url}/openapi.json", headers=owner).status_code == 200
        for path, headers in (
            ("/metrics", {}),
            ("/metrics", {"Authorization": "Bearer wrong"}),
            ("/metrics", owner),
            ("/openapi.json", {}),
            ("/docs", {}),
            ("/openapi.json", {"Authorization": f"Bearer {token}"}),
        ):
            refused = httpx.get(f"{server.url}{path}", headers=headers)
            assert refused.status_code == 401, (path, headers)
            assert refused.json()["error"]["code"] == "unauthorized"
            assert refused.json()["error"]["request_id"] == refused.headers["x-request-id"]
            assert refused.headers["x-content-type-options"] == "nosniff"


def test_admin_create_takes_no_password_argument(tmp_path: Path) -> None:
    env = env_for(tmp_path / "home")
    argued = rpa(
        "admin",
        "create",
        "--email",
        "a@example.com",
        "--password",
        "Visible-In-Ps-42!",
        "--data-dir",
        str(tmp_path / "data"),
        env=env,
    )
    assert argued.returncode == 2
    assert "--password" in argued.stderr
    piped = rpa(
        "admin",
        "create",
        "--email",
        "a@example.com",
        "--data-dir",
        str(tmp_path / "data"),
        env=env,
        stdin="Visible-In-Ps-42!\n",
    )
    assert piped.returncode == 0, piped.stderr
