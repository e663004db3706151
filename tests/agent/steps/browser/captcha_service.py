"""A local stand-in for a 2captcha-style solving service (`in.php` / `res.php`, JSON answers),
which also serves the test pages, so the page URL sent to the service is a real http one."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

GOOD_KEY = "k-3f9a1c77e2"
BROKE_KEY = "k-zero-balance"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

RECAPTCHA_PAGE = """<!doctype html><html><body>
<form id=f action="/done" method=post>
  <div class="g-recaptcha" data-sitekey="6LeTestSiteKey-000" data-callback="onSolved"></div>
  <textarea id="g-recaptcha-response" name="g-recaptcha-response" style="display:none"></textarea>
  <button>Send</button>
</form>
<script>window.solvedWith = null; function onSolved(token) { window.solvedWith = token; }</script>
</body></html>"""

HCAPTCHA_PAGE = """<!doctype html><html><body>
<form><div class="h-captcha" data-sitekey="10000000-ffff-ffff-ffff-000000000001" data-callback="onH"></div>
<textarea name="h-captcha-response" style="display:none"></textarea>
<textarea name="g-recaptcha-response" style="display:none"></textarea></form>
<script>window.solvedWith = null; function onH(token) { window.solvedWith = token; }</script>
</body></html>"""

IMAGE_PAGE = """<!doctype html><html><body>
<div id=captcha style="font: 32px serif; width: 160px; padding: 8px; background: #eee">W9H5K</div>
<label>Code <input name=code></label>
</body></html>"""


@dataclass
class FakeCaptchaService:
    """The service's behaviour and what it was sent."""

    url: str = ""
    not_ready_polls: int = 2
    """`CAPCHA_NOT_READY` answers before the solution."""
    poll_error: str | None = None
    """An error code `res.php` answers instead of a solution."""
    token: str = "03AGdBq2-token-" + "x" * 40
    image_answer: str = "W9H5K"
    requests: list[dict[str, Any]] = field(default_factory=list)
    _polls: int = 0

    def answer(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        self.requests.append({"path": path, **form})
        key = form.get("key")
        if key == BROKE_KEY:
            return {"status": 0, "request": "ERROR_ZERO_BALANCE"}
        if key != GOOD_KEY:
            return {"status": 0, "request": "ERROR_KEY_DOES_NOT_EXIST"}
        if path == "/in.php":
            return self._submit(form)
        self._polls += 1
        if self.poll_error:
            return {"status": 0, "request": self.poll_error}
        if self._polls <= self.not_ready_polls:
            return {"status": 0, "request": "CAPCHA_NOT_READY"}
        image = any(r.get("method") == "base64" for r in self.requests)
        return {"status": 1, "request": self.image_answer if image else self.token}

    def _submit(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("method") == "userrecaptcha" and not form.get("googlekey"):
            return {"status": 0, "request": "ERROR_GOOGLEKEY"}
        if form.get("method") == "hcaptcha" and not form.get("sitekey"):
            return {"status": 0, "request": "ERROR_WRONG_GOOGLEKEY"}
        if form.get("method") == "base64" and not base64.b64decode(form.get("body", "")).startswith(PNG_MAGIC):
            return {"status": 0, "request": "ERROR_IMAGE_TYPE_NOT_SUPPORTED"}
        return {"status": "1", "request": "7231945003"}  # a string, as some services of this API send


def _handler(service: FakeCaptchaService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            del format, args

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            pages = {"/recaptcha": RECAPTCHA_PAGE, "/hcaptcha": HCAPTCHA_PAGE, "/image": IMAGE_PAGE}
            if path in pages:
                self._send(pages[path].encode(), "text/html")
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            query = parse_qs(urlparse(self.path).query)
            if query:  # the key must never travel in a URL
                service.requests.append({"path": "query!", **{k: v[0] for k, v in query.items()}})
            self._send(json.dumps(service.answer(urlparse(self.path).path, form)).encode(), "application/json")

    return Handler


@contextmanager
def fake_captcha_service() -> Iterator[FakeCaptchaService]:
    """Serve a `FakeCaptchaService` on a free loopback port until the block ends."""
    service = FakeCaptchaService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
