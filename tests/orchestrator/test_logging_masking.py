"""Secrets never reach the logs: values the vault accepted or revealed, and anything that looks
like a credential (Authorization headers, password=…, JWTs, refresh tokens), in messages,
arguments, extra fields, tracebacks and structlog events."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import logging as masking
from orchestrator.security.tokens import issue_access_token, new_opaque_token
from tests.orchestrator._vault_helpers import create, reveal


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler has the masking filter, writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(detail)s"))
    handler.addFilter(masking.SecretMaskingFilter())
    logger = logging.getLogger(f"test.masking.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _secret() -> str:
    return f"S3cr3t-{uuid.uuid4().hex[:10]}!"


def test_a_remembered_value_is_masked_in_message_args_extra_and_traceback(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    secret = _secret()
    masking.remember({"password": secret})
    logger.info(f"connecting with {secret}", extra={"detail": {"pw": secret}})
    logger.warning("retrying with %s and %r", secret, {"nested": [secret]}, extra={"detail": "url?p=" + secret})
    try:
        raise RuntimeError(f"login refused for {secret}")
    except RuntimeError:
        logger.exception("failed", extra={"detail": ""})
    output = stream.getvalue()
    assert secret not in output
    assert output.count("***") >= 6
    assert "connecting with ***" in output
    assert "RuntimeError: login refused for ***" in output


def test_encoded_forms_of_a_remembered_value_are_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    secret = 'p@ss "w0rd"/' + uuid.uuid4().hex[:6]
    masking.remember(secret)
    logger.info(
        "json %s url %s",
        json.dumps({"v": secret}),
        "https://x/?p=" + secret.replace(" ", "+").replace("@", "%40").replace('"', "%22").replace("/", "%2F"),
        extra={"detail": ""},
    )
    output = stream.getvalue()
    assert "w0rd" not in output


def test_short_values_are_not_remembered() -> None:
    masking.remember({"values": {"flag": "yes", "pin": "42"}})
    assert masking.mask_text("yes, 42 rows") == "yes, 42 rows"


@pytest.mark.parametrize(
    ("line", "kept", "hidden"),
    [
        ("GET /x Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***", "abc.def.ghi"),
        ("headers={'authorization': 'Basic dXNlcjpwYXNz'}", "'authorization': 'Basic ***", "dXNlcjpwYXNz"),
        ("connect password=hunter22 user=bob", "password=*** user=bob", "hunter22"),
        ('body {"password": "two words", "name": "n"}', '"password": "***", "name": "n"', "two words"),
        ("api_key: sk_live_123456 ok", "api_key: *** ok", "sk_live_123456"),
        ("client_secret=abcdef&grant=x", "client_secret=***&grant=x", "abcdef"),
    ],
)
def test_credential_patterns_are_masked(line: str, kept: str, hidden: str) -> None:
    masked = masking.mask_text(line)
    assert kept in masked
    assert hidden not in masked


def test_jwts_and_refresh_tokens_are_masked() -> None:
    jwt, _ = issue_access_token("k" * 40, user_id=uuid.uuid4(), org_id=uuid.uuid4(), session_id=uuid.uuid4(), ttl_s=60)
    refresh = new_opaque_token("rt")
    masked = masking.mask_text(f"issued {jwt} and {refresh} for bob")
    assert jwt not in masked
    assert refresh not in masked
    assert masked == "issued *** and rt_*** for bob"


def test_structlog_processor_masks_events_and_secret_named_fields() -> None:
    secret = _secret()
    masking.remember(secret)
    stream = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream), processors=[masking.mask_processor, structlog.processors.JSONRenderer()]
    )
    logger.info(
        f"using {secret}",
        db_password="plain-value-1",
        max_tokens=5,
        nested={"token": "abc", "n": secret},
        headers=[("Authorization", "Bearer zzz")],
        obj=ValueError(secret),
    )
    event = json.loads(stream.getvalue())
    assert secret not in stream.getvalue()
    assert event["event"] == "using ***"
    assert event["db_password"] == "***"
    assert event["max_tokens"] == 5
    assert event["nested"] == {"token": "***", "n": "***"}
    assert "zzz" not in stream.getvalue()


def test_install_adds_the_filter_to_root_handlers_once() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        masking.install()
        masking.install()
        assert sum(isinstance(f, masking.SecretMaskingFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


async def test_values_accepted_and_revealed_by_the_vault_are_masked(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, captured: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = captured
    owner = await tenant()
    accepted = f"accepted-{uuid.uuid4().hex}"
    await create(client, owner.headers, "svc", "username_password", {"username": "svc-user-x", "password": accepted})
    logger.info("the step typed %s as %s", accepted, "svc-user-x", extra={"detail": ""})
    revealed = await reveal(app, owner.org_id, {"svc"})
    logger.info("revealed %s", revealed, extra={"detail": ""})
    output = stream.getvalue()
    assert accepted not in output
    assert "svc-user-x" not in output


def test_configure_masks_what_the_served_orchestrator_logs() -> None:
    """`rpa orchestrator` calls `configure()`: both stdlib `rpa.*` records and structlog events
    come out masked."""
    secret = _secret()
    masking.remember(secret)
    stream = io.StringIO()
    rpa = logging.getLogger("rpa")
    before = (list(rpa.handlers), rpa.propagate, rpa.level)
    try:
        masking.configure(stream=stream)
        logging.getLogger("rpa.orchestrator.test").warning("agent sent %s with password=hunter2hunter2", secret)
        structlog.get_logger("rpa.orchestrator.test").warning("vault.read", value=secret, api_key="k-123456")
        output = stream.getvalue()
        assert "agent sent ***" in output
        assert secret not in output
        assert "hunter2hunter2" not in output
        assert "k-123456" not in output
        assert "vault.read" in output
    finally:
        rpa.handlers[:] = before[0]
        rpa.propagate, rpa.level = before[1], before[2]
        structlog.reset_defaults()


def test_uvicorn_access_lines_keep_their_arguments_and_are_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    """uvicorn's access formatter unpacks `record.args`: masking must keep it a tuple."""
    from uvicorn.logging import AccessFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    handler.addFilter(masking.SecretMaskingFilter())
    logger = logging.getLogger(f"test.access.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    secret = _secret()
    masking.remember(secret)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/v1/x?key={secret}", "1.1", 200)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/healthz", "1.1", 200)
    lines = stream.getvalue().splitlines()
    assert lines == [
        '127.0.0.1:5000 - "GET /api/v1/x?key=*** HTTP/1.1" 200 OK',
        '127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200 OK',
    ]


def test_agent_keys_and_enrolment_tokens_are_masked_by_shape() -> None:
    key = "rpa_ak_" + uuid.uuid4().hex + "_" + "Zx9" * 12
    token = "rpa_et_" + "Qw7" * 11
    masked = masking.mask_text(f"agent connected with {key}; enrolled with {token}")
    assert masked == "agent connected with rpa_ak_***; enrolled with rpa_et_***"


# What the quick check skips, the patterns would have left alone. Each of these is masked by one
# pattern and holds no word another pattern looks for; the last three spell a name with letters
# that match case-insensitively only outside ASCII (dotless i, long s, the Kelvin sign).
_MASKED_BY_ONE = [
    "Authorization=abc",
    "PWD: hunter2",
    "passphrase='two words'",
    "Client-Secret=s3",
    "apikey=k1",
    "refresh_token=r1",
    "BEARER abcdefgh12345678",
    "basic abcdefgh12345678",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig",
    "rpa_ak_abcdefghijklmnop0123",
    "rt_abcdefghijklmnop0123",
    "et_abcdefghijklmnop0123",
    "author\u0131zation=abc",
    "pa\u017fsword=abc",
    "api_\u212aey=abc",
]
_PLAIN = st.text(st.sampled_from('abcxyz0189 -:/"[]()'), max_size=30)


@pytest.mark.parametrize("text", _MASKED_BY_ONE)
def test_the_quick_check_lets_every_pattern_mask_what_it_masks(text: str) -> None:
    assert masking.mask_text(text) == masking._mask_patterns(text) != text


@given(_PLAIN, st.sampled_from(["", *_MASKED_BY_ONE]), _PLAIN)
@settings(max_examples=500, deadline=None)
def test_the_quick_check_never_changes_what_mask_text_returns(before: str, middle: str, after: str) -> None:
    text = before + " " + middle + " " + after
    assert masking.mask_text(text) == masking._mask_patterns(masking.MASKER.mask_text(text))


def test_a_plain_log_line_is_left_as_it_is_and_a_credential_in_one_is_not() -> None:
    line = '127.0.0.1:40112 - "POST /api/v1/executions HTTP/1.1" 201'
    assert masking.mask_text(line) == line
    assert masking.mask_text(line + " authorization=abc") == line + " authorization=***"


def test_keys_and_tokens_are_masked_by_shape_without_growing_the_masker() -> None:
    """An orchestrator mints an agent key or enrolment token per enrolment: remembered one by one,
    each made every later one and every log line slower for the life of the process."""
    from orchestrator.runtime.enrolment import new_agent_key, new_enrolment_token

    key, _ = new_agent_key(uuid.uuid4())
    token = new_enrolment_token()
    before = repr(masking.MASKER)
    masking.remember([key, token, new_opaque_token("rt")])
    assert repr(masking.MASKER) == before
    masked = masking.mask_text(f"agent key {key} and token {token}; json {json.dumps({'k': key})}")
    assert key not in masked
    assert token not in masked
    assert key[20:40] not in masked


def test_many_values_remembered_in_a_row_are_all_masked() -> None:
    """The masker compiles its pattern when it is next used: every value added before is in it."""
    values = [_secret() for _ in range(300)]
    for value in values[:150]:
        masking.remember(value)
    assert values[0] not in masking.mask_text(f"x {values[0]} y")
    for value in values[150:]:
        masking.remember(value)
    text = masking.mask_text(" ".join(values))
    assert not any(value in text for value in values)
    assert text.count("***") >= 300
