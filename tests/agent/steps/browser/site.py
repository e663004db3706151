"""A small web site for the browser tests, served on 127.0.0.1 by a thread-based HTTP server.

Pages (all plain HTML, no external resources):

- `/login` (form, user `ann` / password `s3cret`) sets an HttpOnly `sid` cookie and goes to
  `/account`, which shows the user name only with that cookie (else it redirects to `/login`).
- `/form`: text, email, number, date, select (by value/label/index), multi-select, checkbox, radio,
  textarea, file upload, dynamic rows ("Add row"), a submit that posts to `/submit`, whose page
  lists every field received (`#received` holds them as JSON).
- `/late`: a button that appears after `?delay=` ms (default 800) and a text that changes.
- `/frames`: an iframe (`name="inner"`, `#inner-frame`) holding `/frame-inner` with an input, a
  button, and a nested iframe `/frame-deep`.
- `/popup`: a link opening `/popup-target` in a new tab, and a button calling `window.open`.
- `/download`: a link to `/files/report.csv` (an attachment) and a button starting one from script.
- `/table?page=N`: a paginated table (3 pages x 4 rows) with a two-level header (colspan), and a
  "Next" link absent on the last page; `/items?page=N`: repeated product cards with a next link.
- `/shifting`: the same form with ids and classes that change on every load.
- `/dialogs`: alert, confirm and prompt buttons writing the answer into `#result`.
- `/widgets`: hover menu, focus indicator, drag and drop, a long page for scrolling, keyboard log.
- `/bigform?fields=N`: N text inputs `#f0..#fN-1`, a select, a checkbox and a submit (benchmarks).
- `/slow?ms=N`: a page answered after N ms; `/echo-headers`: the request headers as JSON
  (user agent, language).

`SiteServer` is a context manager; `base_url` has no trailing slash.
"""

from __future__ import annotations

import html
import json
import secrets
import sys
import threading
import time
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

USER = "ann"
PASSWORD = "s3cret"
CSV_BODY = "name,amount\nAnn,12.5\nBob,7\n"


def _page(title: str, body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"{head}</head><body>{body}</body></html>"
    )


LOGIN = _page(
    "Login",
    """
<h1>Sign in</h1>
<form method="post" action="/login">
  <label for="user">User name</label><input id="user" name="user" autocomplete="off">
  <label for="password">Password</label><input id="password" name="password" type="password">
  <button id="sign-in" type="submit">Sign in</button>
</form>
<p id="error">{error}</p>
""",
)

FORM = _page(
    "Order form",
    """
<h1>Order</h1>
<form id="order" method="post" action="/submit" enctype="multipart/form-data">
  <label for="name">Customer name</label><input id="name" name="name" placeholder="Full name">
  <label for="email">E-mail</label><input id="email" name="email" type="email">
  <label for="qty">Quantity</label><input id="qty" name="qty" type="number">
  <label for="due">Due date</label><input id="due" name="due" type="date">
  <label for="country">Country</label>
  <select id="country" name="country">
    <option value="">--</option><option value="fr">France</option><option value="de">Germany</option>
    <option value="it">Italy</option>
  </select>
  <label for="tags">Tags</label>
  <select id="tags" name="tags" multiple>
    <option value="a">Alpha</option><option value="b">Beta</option><option value="c">Gamma</option>
  </select>
  <label><input id="urgent" name="urgent" type="checkbox" value="yes"> Urgent</label>
  <label><input id="terms" name="terms" type="checkbox" value="yes" checked> Accept terms</label>
  <label><input type="radio" name="ship" value="post" id="ship-post"> Post</label>
  <label><input type="radio" name="ship" value="courier" id="ship-courier"> Courier</label>
  <label for="notes">Notes</label><textarea id="notes" name="notes"></textarea>
  <label for="attachment">Attachment</label><input id="attachment" name="attachment" type="file" multiple>
  <table id="rows"><tbody></tbody></table>
  <button id="add-row" type="button">Add row</button>
  <button id="submit" type="submit" data-testid="submit-order">Submit order</button>
</form>
<script>
let n = 0;
document.getElementById('add-row').addEventListener('click', () => {
  const tr = document.createElement('tr');
  tr.className = 'row';
  tr.innerHTML = `<td><input class="item" name="item${n}" aria-label="Item ${n + 1}"></td>` +
                 `<td><input class="price" name="price${n}" aria-label="Price ${n + 1}"></td>`;
  document.querySelector('#rows tbody').appendChild(tr);
  n += 1;
});
</script>
""",
)

FRAMES = _page(
    "Frames",
    """
<h1>Outer</h1>
<iframe id="inner-frame" name="inner" src="/frame-inner" width="600" height="300"></iframe>
""",
)
FRAME_INNER = _page(
    "Inner",
    """
<p id="where">inner frame</p>
<input id="frame-input" aria-label="Frame input">
<button id="frame-button" onclick="document.getElementById('where').textContent =
  'clicked ' + document.getElementById('frame-input').value">Apply</button>
<iframe id="deep-frame" name="deep" src="/frame-deep" width="300" height="100"></iframe>
""",
)
FRAME_DEEP = _page("Deep", "<p id='deep-text'>deep frame</p>")

POPUP = _page(
    "Popup",
    """
<a id="open-tab" href="/popup-target" target="_blank">Open in new tab</a>
<button id="open-window" onclick="window.open('/popup-target?via=window', 'w', 'popup')">Open window</button>
""",
)
POPUP_TARGET = _page("Popup target", "<h1 id='popup-title'>Popup page</h1>")

DOWNLOAD = _page(
    "Downloads",
    """
<a id="csv" href="/files/report.csv">Report (CSV)</a>
<button id="blob" onclick="location.href = '/files/notes.txt'">Make file</button>
""",
)

DIALOGS = _page(
    "Dialogs",
    """
<button id="alert" onclick="alert('Saved!'); document.getElementById('result').textContent='alerted'">Alert</button>
<button id="confirm" onclick="document.getElementById('result').textContent =
  confirm('Delete?') ? 'confirmed' : 'declined'">Confirm</button>
<button id="prompt" onclick="document.getElementById('result').textContent =
  'name=' + prompt('Your name?', 'nobody')">Prompt</button>
<p id="result">none</p>
""",
)

WIDGETS = _page(
    "Widgets",
    """
<style>#hover-zone {position:relative} #menu {display:none; position:absolute; top:1em; margin:0}
 #hover-zone:hover #menu {display:block}
 .box {width:120px;height:60px;border:1px solid #333;margin:8px}</style>
<div id="hover-zone"><span id="hover-me">Products</span><ul id="menu"><li id="menu-item">Laptops</li></ul></div>
<input id="focus-me" onfocus="document.getElementById('focus-state').textContent='focused'" aria-label="Focus me">
<p id="focus-state">blurred</p>
<div id="drag-source" class="box" draggable="true">Drag me</div>
<div id="drop-target" class="box">Drop here</div>
<p id="drop-state">empty</p>
<input id="keys" aria-label="Keys" onkeydown="document.getElementById('key-log').textContent += event.key + ' '">
<p id="key-log"></p>
<button id="click-me" onclick="document.getElementById('click-log').textContent += 'click '"
  ondblclick="document.getElementById('click-log').textContent += 'dbl '"
  oncontextmenu="event.preventDefault(); document.getElementById('click-log').textContent += 'right '"
  onmousedown="if (event.shiftKey) document.getElementById('click-log').textContent += 'shift '">Click me</button>
<p id="click-log"></p>
<div style="height:3000px"></div>
<p id="far-away">far away</p>
<script>
const src = document.getElementById('drag-source'), dst = document.getElementById('drop-target');
src.addEventListener('dragstart', e => e.dataTransfer.setData('text/plain', 'x'));
dst.addEventListener('dragover', e => e.preventDefault());
dst.addEventListener('drop', e => {
  e.preventDefault(); document.getElementById('drop-state').textContent = 'dropped';
});
</script>
""",
)

HEADERS = [("Name", "Region"), ("Amount", "Value"), ("Amount", "Currency")]
TABLE_ROWS = [(f"Item {i}", ["North", "South", "East", "West"][i % 4], str(10 * i + 0.5), "EUR") for i in range(1, 13)]
ITEMS = [{"title": f"Product {i}", "price": f"{i * 3}.00", "href": f"/product/{i}"} for i in range(1, 8)]


def _table_page(page: int) -> str:
    rows = TABLE_ROWS[(page - 1) * 4 : page * 4]
    body = "".join(f"<tr><td>{n}</td><td>{r}</td><td>{a}</td><td>{c}</td></tr>" for n, r, a, c in rows)
    nxt = f"<a id='next' class='next' href='/table?page={page + 1}'>Next</a>" if page < 3 else ""
    return _page(
        f"Table page {page}",
        f"""
<table id="data">
  <thead>
    <tr><th colspan="2">Who</th><th colspan="2">Amount</th></tr>
    <tr><th>Name</th><th>Region</th><th>Value</th><th>Currency</th></tr>
  </thead>
  <tbody>{body}</tbody>
</table>
<table id="plain"><tr><td>a</td><td>b</td></tr><tr><td colspan="2">wide</td></tr></table>
<p>Page {page} of 3</p>{nxt}
""",
    )


def _items_page(page: int) -> str:
    chunk = ITEMS[(page - 1) * 3 : page * 3]
    cards = "".join(
        f"<div class='card'><h2 class='title'>{it['title']}</h2><span class='price'>{it['price']}</span>"
        f"<a class='more' href='{it['href']}'>Details</a></div>"
        for it in chunk
    )
    nxt = f"<a rel='next' class='next' href='/items?page={page + 1}'>More</a>" if page * 3 < len(ITEMS) else ""
    links = "<nav><a href='/form'>Form</a> <a href='/table'>Table</a> <a href='https://example.invalid/x'>Out</a></nav>"
    return _page(f"Items {page}", f"{links}<div id='list'>{cards}</div>{nxt}")


def _shifting() -> str:
    tag = secrets.token_hex(3)
    return _page(
        "Shifting",
        f"""
<form id="f-{tag}" onsubmit="event.preventDefault(); document.getElementById('out-{tag}').textContent =
  'sent ' + this.querySelector('input').value">
  <label for="in-{tag}">Invoice number</label> <input id="in-{tag}" class="c-{tag}">
  <button id="b-{tag}" class="c-{tag}" type="submit">Send</button>
</form>
<p id="out-{tag}" class="out"></p>
""",
    )


def _bigform(fields: int) -> str:
    inputs = "".join(f"<label for='f{i}'>Field {i}</label><input id='f{i}' name='f{i}'><br>" for i in range(fields))
    return _page(
        "Big form",
        f"""<form id="big" method="post" action="/submit" enctype="multipart/form-data">{inputs}
<select id="choice" name="choice"><option value="a">A</option><option value="b">B</option></select>
<input id="agree" name="agree" type="checkbox" value="yes">
<button id="send" type="submit">Send</button></form>""",
    )


def _late(delay_ms: int) -> str:
    return _page(
        "Late",
        f"""
<p id="status">loading</p>
<script>
setTimeout(() => {{
  const b = document.createElement('button'); b.id = 'late-button'; b.textContent = 'Ready';
  b.onclick = () => {{ document.getElementById('status').textContent = 'pressed'; }};
  document.body.appendChild(b);
  document.getElementById('status').textContent = 'ready';
  history.pushState({{}}, '', '/late?state=ready');
  window.appReady = true;
}}, {delay_ms});
</script>
""",
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        return

    # -- helpers ----------------------------------------------------------------------------
    def _send(
        self,
        body: str | bytes,
        status: int = 200,
        ctype: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, where: str, headers: dict[str, str] | None = None) -> None:
        self._send(b"", 303, headers={"Location": where, **(headers or {})})

    def _session_user(self) -> str | None:
        jar = cookies.SimpleCookie(self.headers.get("Cookie", ""))
        sid = jar["sid"].value if "sid" in jar else None
        return self.server.sessions.get(sid) if sid else None

    def _query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    # -- routes ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        route = urlsplit(self.path).path
        q = self._query()
        pages: dict[str, Any] = {
            "/": lambda: _page("Home", "<h1>Test site</h1><a href='/login'>Login</a>"),
            "/login": lambda: LOGIN.replace("{error}", ""),
            "/form": lambda: FORM,
            "/late": lambda: _late(int(q.get("delay", "800"))),
            "/frames": lambda: FRAMES,
            "/frame-inner": lambda: FRAME_INNER,
            "/frame-deep": lambda: FRAME_DEEP,
            "/popup": lambda: POPUP,
            "/popup-target": lambda: POPUP_TARGET,
            "/download": lambda: DOWNLOAD,
            "/dialogs": lambda: DIALOGS,
            "/widgets": lambda: WIDGETS,
            "/shifting": _shifting,
            "/table": lambda: _table_page(int(q.get("page", "1"))),
            "/items": lambda: _items_page(int(q.get("page", "1"))),
            "/bigform": lambda: _bigform(int(q.get("fields", "46"))),
        }
        if route in pages:
            self._send(pages[route]())
        elif route == "/account":
            self._account()
        elif route.startswith("/product/"):
            self._send(_page("Product", f"<h1 id='product'>{html.escape(route)}</h1>"))
        elif route == "/files/report.csv":
            self._send(CSV_BODY, ctype="text/csv", headers={"Content-Disposition": 'attachment; filename="report.csv"'})
        elif route == "/files/notes.txt":
            self._send("hello file", ctype="text/plain", headers={"Content-Disposition": "attachment"})
        elif route == "/slow":
            time.sleep(int(q.get("ms", "500")) / 1000)
            self._send(_page("Slow", "<p id='slow'>done</p>"))
        elif route == "/echo-headers":
            self._send(json.dumps(dict(self.headers.items())), ctype="application/json")
        elif route == "/logout":
            self._redirect("/login", {"Set-Cookie": "sid=; Path=/; Max-Age=0; HttpOnly"})
        else:
            self._send(_page("Not found", "<h1>404</h1>"), 404)

    def _account(self) -> None:
        user = self._session_user()
        if user is None:
            self._redirect("/login")
            return
        self._send(_page("Account", f"<h1 id='welcome'>Welcome, {html.escape(user)}</h1><a href='/orders'>Orders</a>"))

    def do_POST(self) -> None:
        route = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if route == "/login":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("user") == USER and form.get("password") == PASSWORD:
                sid = secrets.token_hex(16)
                self.server.sessions[sid] = USER
                self._redirect("/account", {"Set-Cookie": f"sid={sid}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"})
            else:
                self._send(LOGIN.replace("{error}", "Wrong user name or password"), 401)
        elif route == "/submit":
            received = _parse_form(self.headers.get("Content-Type", ""), raw)
            self.server.submissions.append(received)
            body = f"<h1 id='thanks'>Received</h1><pre id='received'>{html.escape(json.dumps(received))}</pre>"
            self._send(_page("Received", body))
        else:
            self._send(_page("Not found", "<h1>404</h1>"), 404)


def _parse_form(content_type: str, raw: bytes) -> dict[str, Any]:
    """Fields of a multipart or urlencoded body: {name: value or [values]}; files as {filename, size}."""
    from email.parser import BytesParser
    from email.policy import HTTP

    fields: dict[str, Any] = {}

    def add(name: str, value: Any) -> None:
        if name in fields:
            prev = fields[name]
            fields[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            fields[name] = value

    if content_type.startswith("multipart/"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True)
            payload = payload if isinstance(payload, bytes) else b""
            if filename is not None:
                if filename:
                    add(str(name), {"filename": filename, "size": len(payload)})
            else:
                add(str(name), payload.decode())
    else:
        for key, values in parse_qs(raw.decode()).items():
            for value in values:
                add(key, value)
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sessions: dict[str, str] = {}
        self.submissions: list[dict[str, Any]] = []


class SiteServer:
    """The test site on a free loopback port, served from a daemon thread."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="browser-test-site", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def submissions(self) -> list[dict[str, Any]]:
        """Every form posted to `/submit`, oldest first."""
        return self._server.submissions

    def url(self, path: str) -> str:
        """The absolute URL of `path` (which starts with `/`)."""
        return self.base_url + path

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # `python -m tests.agent.steps.browser.site` serves it for a look by hand
    with SiteServer() as site:
        sys.stdout.write(site.base_url + "\n")
        sys.stdout.flush()
        threading.Event().wait()
