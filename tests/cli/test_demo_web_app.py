"""Ledger, the web app `rpa demo` drives: sign-in against the password, pages behind the session,
invoice forms checked field by field, values escaped, and the row that names what to install
when no agent can drive a browser. Real HTTP on loopback; the browser part is in
`tests/e2e/test_demo.py`."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest

from cli._demo_web import BROWSER_MISSING, browser_missing, summarise
from cli._demo_web_app import LedgerApp

PASSWORD = "Ledger-Test-pw-42"


@pytest.fixture(scope="module")
def app() -> Iterator[LedgerApp]:
    with LedgerApp({"robot": PASSWORD}) as served:
        yield served


def call(
    app: LedgerApp, method: str, path: str, form: dict[str, str] | None = None, cookie: str = ""
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection(urlsplit(app.url).netloc, timeout=10)
    try:
        headers = {"Cookie": cookie} if cookie else {}
        body = urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def sign_in(app: LedgerApp) -> str:
    status, headers, _ = call(app, "POST", "/login", {"user": "robot", "password": PASSWORD})
    assert status == 303
    assert headers["Location"] == "/invoices/new"
    return headers["Set-Cookie"].split(";", 1)[0]


def test_sign_in_checks_the_password_and_sets_an_http_only_session_cookie(app: LedgerApp) -> None:
    status, headers, page = call(app, "POST", "/login", {"user": "robot", "password": PASSWORD + "x"})
    assert status == 401
    assert "Wrong user name or password." in page
    assert "Set-Cookie" not in headers
    assert call(app, "POST", "/login", {"user": "nobody", "password": PASSWORD})[0] == 401

    status, headers, _ = call(app, "POST", "/login", {"user": "robot", "password": PASSWORD})
    assert status == 303
    assert "HttpOnly" in headers["Set-Cookie"]
    assert "SameSite=Strict" in headers["Set-Cookie"]


@pytest.mark.parametrize("path", ["/", "/invoices/new", "/invoices", "/invoices/REF-1"])
def test_every_page_but_the_sign_in_needs_a_session(app: LedgerApp, path: str) -> None:
    status, headers, _ = call(app, "GET", path, cookie="ledger_session=forged")
    assert (status, headers["Location"]) == (303, "/login")
    assert call(app, "POST", "/invoices", {"number": "X-1"})[1]["Location"] == "/login"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"number": ""}, "Invoice number: letters, digits"),
        ({"date": "07/12/2026"}, "Invoice date: expected a date (YYYY-MM-DD)"),
        ({"quantity1": "two"}, "Line 2: the quantity must be a whole number"),
        ({"amount0": "12,50"}, "Line 1: the amount must be a number such as 12.50"),
        ({"description0": ""}, "Add at least one line"),
    ],
)
def test_a_wrong_invoice_is_refused_with_the_field_named(app: LedgerApp, change: dict[str, str], message: str) -> None:
    cookie = sign_in(app)
    form = {"number": "INV-9", "date": "2026-12-07", "description0": "Paper", "quantity0": "1", "amount0": "2.5"}
    form |= {"description1": "Ink", "quantity1": "2", "amount1": "3"} | change
    before = len(app.invoices)
    status, _, page = call(app, "POST", "/invoices", form, cookie)
    assert status == 400
    assert message in page
    assert len(app.invoices) == before


def test_a_saved_invoice_gets_a_reference_and_is_listed_with_its_values_escaped(app: LedgerApp) -> None:
    cookie = sign_in(app)
    form = {"number": "INV-7", "date": "2026-12-07", "description0": "<b>Toner</b>", "quantity0": "2", "amount0": "61"}
    status, headers, _ = call(app, "POST", "/invoices", form, cookie)
    assert status == 303
    saved = app.invoices[-1]
    assert headers["Location"] == f"/invoices/{saved.reference}"
    assert (saved.number, saved.date, saved.lines, saved.user) == (
        "INV-7",
        "2026-12-07",
        (("<b>Toner</b>", 2, "61.00"),),
        "robot",
    )

    status, _, page = call(app, "GET", headers["Location"], cookie=cookie)
    assert status == 200
    assert f'<strong id="reference">{saved.reference}</strong>' in page
    assert "&lt;b&gt;Toner&lt;/b&gt;" in page
    assert "<b>Toner</b>" not in page
    listed = call(app, "GET", "/invoices", cookie=cookie)[2]
    assert f"<td>{saved.reference}</td><td>INV-7</td>" in listed


def test_the_demo_row_says_what_to_install_when_no_agent_has_a_browser() -> None:
    assert browser_missing([{"capabilities": ["core", "pdf"]}, {"capabilities": []}, {}]) == BROWSER_MISSING
    assert "apt-get install chromium" in BROWSER_MISSING
    assert "rpa-suite[browser]" in BROWSER_MISSING
    assert browser_missing([{"capabilities": ["core"]}, {"capabilities": ["browser", "core"]}]) is None


def test_the_demo_row_succeeds_only_when_the_reference_read_back_is_the_one_saved() -> None:
    outputs = {"invoice_number": "INV-1", "reference": "REF-2026-0001-AB12", "screenshots": ["a.png", "b.png"]}
    assert summarise("succeeded", outputs, None, ["REF-2026-0001-AB12"], 2) == (
        "succeeded",
        "invoice INV-1 entered in the web app as REF-2026-0001-AB12, 2 screenshots kept as artifacts",
    )
    assert summarise("succeeded", outputs, None, ["REF-2026-0001-CD34"], 2)[0] == "failed"
    assert summarise("succeeded", outputs, None, [], 2)[0] == "failed"
    assert summarise("succeeded", outputs, None, ["REF-2026-0001-AB12"], 1)[0] == "failed"
    failed = summarise("failed", {}, {"message": "browser.open: no Chromium found"}, [], 0)
    assert failed == ("failed", "the flow ended failed: browser.open: no Chromium found")
