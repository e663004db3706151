"""Ledger: the small invoice-entry web app that `rpa demo` drives through the browser.

A sign-in page, an invoice form with lines added one by one, a confirmation that shows the
reference number the app gave the invoice, and a list of the saved invoices. Pages are the
static files of `resources/demo-web/`, filled in with `string.Template` (every value escaped);
the state (users, sessions, invoices) lives in memory for the life of the server.

It is served by the stdlib's `ThreadingHTTPServer` in a thread of the `rpa demo` process, on
127.0.0.1 and a free port: the demo needs no web framework, and the agents reach it like any
intranet application.
"""

from __future__ import annotations

import hmac
import html
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import parse_qs

__all__ = ["Invoice", "LedgerApp"]

PAGES = Path(__file__).resolve().parents[1] / "resources" / "demo-web"
MAX_BODY = 64 * 1024
MAX_LINES = 100
_COOKIE = "ledger_session"


class InvalidInvoice(ValueError):
    """A submitted invoice form the app refuses; the message says which field and why."""


@dataclass(frozen=True)
class Invoice:
    """One saved invoice: its lines are (description, quantity, amount as text)."""

    reference: str
    number: str
    date: str
    lines: tuple[tuple[str, int, str], ...]
    user: str


@dataclass
class _State:
    users: dict[str, str]
    sessions: dict[str, str] = field(default_factory=dict)
    invoices: list[Invoice] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _page(name: str, markup: dict[str, str] | None = None, **values: str) -> bytes:
    """A page of `resources/demo-web/` with `values` escaped; `markup` is HTML built from escaped cells."""
    template = Template((PAGES / name).read_text(encoding="utf-8"))
    return template.safe_substitute({**{k: html.escape(v) for k, v in values.items()}, **(markup or {})}).encode()


def _row(*values: object, numeric: tuple[int, ...] = ()) -> str:
    tags = ('<td class="num">' if i in numeric else "<td>" for i in range(len(values)))
    return "<tr>" + "".join(f"{tag}{html.escape(str(v))}</td>" for tag, v in zip(tags, values, strict=True)) + "</tr>"


def parse_invoice(form: dict[str, list[str]]) -> tuple[str, str, tuple[tuple[str, int, str], ...]]:
    """Number, ISO date and lines from a submitted form (fields `description0`, `quantity0`, …).

    Raises:
        InvalidInvoice: a field is missing or not of its kind; the message names it.
    """

    def one(name: str) -> str:
        return (form.get(name) or [""])[0].strip()

    number = one("number")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,39}", number):
        raise InvalidInvoice("Invoice number: letters, digits and - / _ . only (1 to 40)")
    try:
        when = date.fromisoformat(one("date")).isoformat()
    except ValueError:
        raise InvalidInvoice("Invoice date: expected a date (YYYY-MM-DD)") from None
    lines: list[tuple[str, int, str]] = []
    while (description := one(f"description{len(lines)}")) and len(lines) < MAX_LINES:
        row = len(lines) + 1
        quantity = one(f"quantity{len(lines)}")
        if not quantity.isdigit() or int(quantity) < 1:
            raise InvalidInvoice(f"Line {row}: the quantity must be a whole number of at least 1")
        try:
            amount = Decimal(one(f"amount{len(lines)}"))
        except InvalidOperation:
            raise InvalidInvoice(f"Line {row}: the amount must be a number such as 12.50") from None
        if not amount.is_finite() or amount < 0:
            raise InvalidInvoice(f"Line {row}: the amount must be a number such as 12.50")
        lines.append((description[:200], int(quantity), f"{amount:.2f}"))
    if not lines:
        raise InvalidInvoice("Add at least one line")
    return number, when, tuple(lines)


class LedgerApp:
    """The web app on 127.0.0.1 and a free port, in a daemon thread; `stop()` ends it.

    Args:
        users: user name -> password; the sign-in page checks against these.
    """

    def __init__(self, users: dict[str, str]) -> None:
        self.state = _State(users=dict(users))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="ledger", daemon=True)

    @property
    def invoices(self) -> list[Invoice]:
        """The invoices saved so far, oldest first."""
        with self.state.lock:
            return list(self.state.invoices)

    def start(self) -> LedgerApp:
        """Serve in the background; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LedgerApp:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(_LedgerHandler):
        pass

    Handler.state = state
    return Handler


class _LedgerHandler(BaseHTTPRequestHandler):
    state: _State
    server_version = "Ledger"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo prints its own summary."""

    # -- responses -------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where: str, cookie: str | None = None) -> None:
        self.send_response(303)
        self.send_header("Location", where)
        if cookie is not None:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _user(self) -> str | None:
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        token = cookie[_COOKIE].value if _COOKIE in cookie else ""
        with self.state.lock:
            return self.state.sessions.get(token)

    def _form(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise InvalidInvoice("The form is too large")
        return parse_qs(self.rfile.read(length).decode("utf-8", "replace"), max_num_fields=4 * MAX_LINES)

    # -- routes ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        """Pages; every page but the sign-in one needs a session."""
        path = self.path.split("?", 1)[0]
        if path == "/style.css":
            self._send(200, (PAGES / "style.css").read_bytes(), "text/css; charset=utf-8")
            return
        if path == "/login":
            self._send(200, _page("login.html", error=""))
            return
        user = self._user()
        if user is None:
            self._redirect("/login")
        elif path in ("/", "/invoices/new"):
            self._send(200, _page("invoice.html", user=user, error=""))
        elif path == "/invoices":
            self._list(user)
        elif (invoice := self._find(path.removeprefix("/invoices/"))) is not None:
            self._saved(user, invoice)
        else:
            self._send(404, b"Not found", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        """Sign in, or save an invoice."""
        if self.path == "/login":
            self._login()
        elif self.path == "/invoices" and (user := self._user()) is not None:
            self._save(user)
        else:
            self._redirect("/login")

    def _login(self) -> None:
        form = self._form()
        user = (form.get("user") or [""])[0]
        password = (form.get("password") or [""])[0]
        expected = self.state.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            self._send(401, _page("login.html", error="Wrong user name or password."))
            return
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.sessions[token] = user
        self._redirect("/invoices/new", f"{_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")

    def _save(self, user: str) -> None:
        try:
            number, when, lines = parse_invoice(self._form())
        except InvalidInvoice as error:
            self._send(400, _page("invoice.html", user=user, error=str(error)))
            return
        with self.state.lock:
            reference = f"REF-{date.today():%Y}-{len(self.state.invoices) + 1:04d}-{secrets.token_hex(2).upper()}"
            self.state.invoices.append(Invoice(reference, number, when, lines, user))
        self._redirect(f"/invoices/{reference}")

    def _find(self, reference: str) -> Invoice | None:
        with self.state.lock:
            return next((i for i in self.state.invoices if i.reference == reference), None)

    def _saved(self, user: str, invoice: Invoice) -> None:
        rows = "".join(_row(*line, numeric=(1, 2)) for line in invoice.lines)
        page = _page(
            "saved.html",
            {"lines": rows},
            user=user,
            number=invoice.number,
            date=invoice.date,
            reference=invoice.reference,
        )
        self._send(200, page)

    def _list(self, user: str) -> None:
        with self.state.lock:
            invoices = list(self.state.invoices)
        rows = "".join(_row(i.reference, i.number, i.date, len(i.lines), i.user, numeric=(3,)) for i in invoices)
        self._send(200, _page("invoices.html", {"rows": rows}, user=user))
