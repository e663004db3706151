"""`browser.solve_captcha`: have a solving service answer a CAPTCHA, then put the answer in the page.

The service speaks the common `in.php` / `res.php` API of 2captcha-style services (2captcha,
and the services that copied its API): submit the task to `in.php`, then poll `res.php` until
the answer is ready (`CAPCHA_NOT_READY` meanwhile, the service's own spelling). The API key is
a credential read by name; it travels only in POST bodies, never in a URL, a log or an error.

    reCAPTCHA v2: method `userrecaptcha` with the site key (read from the page's
                  `data-sitekey` when not given) and the page URL; the token is written into
                  every `g-recaptcha-response` field and the widget's callback is called.
                  `invisible` and `enterprise` are passed on.
    hCaptcha:     method `hcaptcha` with `sitekey` and the page URL; the token goes into the
                  `h-captcha-response` (and `g-recaptcha-response`) fields, then the callback.
    image:        the CAPTCHA image element is screenshotted and sent as `base64`; the answer
                  is typed into the answer field when one is given.

Service errors map to `StepError` kinds through `SERVICE_ERRORS`: a wrong key or an empty
balance is not retryable; "no free worker" or "unsolvable" are.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.steps.browser._errors import map_playwright_errors
from agent.steps.browser._targets import Target, locate
from shared.errors import MissingDependency, StepError, StepTimeout
from shared.steps import CREDENTIAL_NAME, context, step

DEFAULT_SERVICE = "https://2captcha.com"

# code -> (kind, retryable, what it means for the user)
SERVICE_ERRORS: dict[str, tuple[str, bool, str]] = {
    "ERROR_WRONG_USER_KEY": ("credential", False, "the API key is malformed"),
    "ERROR_KEY_DOES_NOT_EXIST": ("credential", False, "the API key does not exist"),
    "ERROR_ZERO_BALANCE": ("captcha_balance", False, "the account has no balance left"),
    "ERROR_IP_NOT_ALLOWED": ("captcha_refused", False, "this IP address is not allowed for the key"),
    "IP_BANNED": ("captcha_refused", False, "this IP address is banned by the service"),
    "ERROR_GOOGLEKEY": ("captcha_bad_request", False, "the site key is missing or malformed"),
    "ERROR_WRONG_GOOGLEKEY": ("captcha_bad_request", False, "the site key is wrong"),
    "ERROR_PAGEURL": ("captcha_bad_request", False, "the page URL is missing"),
    "ERROR_ZERO_CAPTCHA_FILESIZE": ("captcha_bad_request", False, "the image is empty"),
    "ERROR_TOO_BIG_CAPTCHA_FILESIZE": ("captcha_bad_request", False, "the image is too big"),
    "ERROR_WRONG_FILE_EXTENSION": ("captcha_bad_request", False, "the image type is not accepted"),
    "ERROR_IMAGE_TYPE_NOT_SUPPORTED": ("captcha_bad_request", False, "the image type is not supported"),
    "ERROR_NO_SLOT_AVAILABLE": ("captcha_busy", True, "no worker is free now"),
    "MAX_USER_TURN": ("captcha_busy", True, "too many requests; the service asks to slow down"),
    "ERROR_CAPTCHA_UNSOLVABLE": ("captcha_unsolvable", True, "the workers could not solve it"),
    "ERROR_BAD_DUPLICATES": ("captcha_unsolvable", True, "the workers did not agree on an answer"),
    "ERROR_WRONG_CAPTCHA_ID": ("captcha_service", True, "the service lost the task"),
}
_NOT_READY = "CAPCHA_NOT_READY"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SolveCaptchaParams(BaseModel):
    """Params of `browser.solve_captcha`."""

    model_config = ConfigDict(extra="forbid")

    session: str = Field(default="main", description="Name of the browser session whose active tab has the CAPTCHA.")
    kind: Literal["recaptcha_v2", "hcaptcha", "image"] = Field(
        default="recaptcha_v2",
        description="reCAPTCHA v2 (checkbox or invisible), hCaptcha, or a classic image with text.",
    )
    credential: str = Field(
        json_schema_extra=CREDENTIAL_NAME,
        min_length=1,
        description="Name of the credential holding the service's API key (`NAME` or `NAME.field`, e.g. "
        "`captcha.api_key`).",
    )
    service_url: str = Field(
        default=DEFAULT_SERVICE,
        pattern=r"^https?://",
        description="Base URL of the 2captcha-compatible service; `in.php` and `res.php` are appended.",
    )
    site_key: str | None = Field(
        default=None, description="reCAPTCHA / hCaptcha site key; read from the page's `data-sitekey` when empty."
    )
    invisible: bool = Field(default=False, description="reCAPTCHA: the widget is the invisible kind.")
    enterprise: bool = Field(default=False, description="reCAPTCHA: the site uses reCAPTCHA Enterprise.")
    image: Target | None = Field(default=None, description="The CAPTCHA image element (kind `image`).")
    answer_field: Target | None = Field(
        default=None, description="Where to type the answer of an image CAPTCHA; when empty it is only returned."
    )
    case_sensitive: bool = Field(default=False, description="Image CAPTCHA: the answer is case-sensitive.")
    call_callback: bool = Field(
        default=True, description="Call the widget's `data-callback` with the token, as a real solve does."
    )
    timeout_s: float = Field(default=180.0, gt=0, le=900, description="How long to wait for the answer in all.")
    first_poll_s: float | None = Field(
        default=None,
        ge=0,
        description="Wait before the first poll (the service's advice: 15-20 s for reCAPTCHA, 5 s for an image).",
    )
    poll_interval_s: float = Field(default=5.0, gt=0, le=60, description="Between two polls.")

    @field_validator("service_url")
    @classmethod
    def _key_never_in_clear(cls, value: str) -> str:
        # The API key travels in the request body: plain http only to this machine.
        parts = urlsplit(value)
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError("the CAPTCHA service must be reached over https (plain http only on this machine)")
        return value

    @model_validator(mode="after")
    def _image_needs_its_element(self) -> SolveCaptchaParams:
        if self.kind == "image" and self.image is None:
            raise ValueError("an image CAPTCHA needs 'image': the target of the CAPTCHA picture")
        return self


@contextlib.contextmanager
def map_service_errors(service_url: str) -> Iterator[None]:
    """Translate httpx's errors while talking to the service (the key is never in the message)."""
    import httpx

    try:
        yield
    except httpx.TimeoutException:
        raise StepError(
            f"the CAPTCHA service at {service_url} did not answer in time", kind="captcha_service", retryable=True
        ) from None
    except httpx.HTTPStatusError as err:
        status = err.response.status_code
        raise StepError(
            f"the CAPTCHA service at {service_url} answered HTTP {status}",
            kind="captcha_service",
            retryable=status >= 500 or status == 429,
            details={"status": status},
        ) from None
    except (httpx.HTTPError, ValueError) as err:  # connection refused, bad JSON...
        raise StepError(
            f"the CAPTCHA service at {service_url} could not be used: {type(err).__name__}",
            kind="captcha_service",
            retryable=True,
        ) from None


def service_error(code: str, service_url: str) -> StepError:
    """The `StepError` for an error code the service answered with."""
    kind, retryable, meaning = SERVICE_ERRORS.get(code, ("captcha_service", False, "an error it did not explain"))
    return StepError(
        f"the CAPTCHA service at {service_url} refused: {meaning} ({code})",
        kind=kind,
        retryable=retryable,
        details={"code": code},
    )


async def _call(client: Any, url: str, service_url: str, form: dict[str, str]) -> dict[str, Any]:
    with map_service_errors(service_url):
        response = await client.post(url, data=form)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
    return answer


def _ok(answer: dict[str, Any]) -> bool:
    # 2captcha sends the number 1; some services of the same API send the string "1".
    return str(answer.get("status")) == "1"


async def _solve(client: Any, params: SolveCaptchaParams, key: str, task: dict[str, str]) -> tuple[str, str]:
    """Submit `task`, poll until answered; returns (captcha id, answer)."""
    base = params.service_url.rstrip("/")
    submitted = await _call(client, f"{base}/in.php", base, {"key": key, "json": "1", **task})
    if not _ok(submitted):
        raise service_error(str(submitted.get("request")), base)
    captcha_id = str(submitted["request"])
    ctx = context()
    ctx.log(f"CAPTCHA sent to {base} as task {captcha_id}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + params.timeout_s
    first = params.first_poll_s if params.first_poll_s is not None else (15.0 if params.kind != "image" else 5.0)
    await asyncio.sleep(min(first, params.timeout_s))
    while True:
        ctx.raise_if_cancelled()
        polled = await _call(
            client, f"{base}/res.php", base, {"key": key, "action": "get", "id": captcha_id, "json": "1"}
        )
        answer = str(polled.get("request"))
        if _ok(polled):
            return captcha_id, answer
        if answer != _NOT_READY:
            raise service_error(answer, base)
        if loop.time() + params.poll_interval_s > deadline:
            raise StepTimeout(
                f"the CAPTCHA service at {base} had no answer for task {captcha_id} after {params.timeout_s:g} s",
                details={"captcha_id": captcha_id},
            )
        await asyncio.sleep(params.poll_interval_s)


# kind -> (the widget's iframe hint, the iframe URL parameter holding the site key, the fields
# the token goes in, the service's method and the name of its site key parameter)
_WIDGETS: dict[str, tuple[str, str, tuple[str, ...], str, str]] = {
    "recaptcha_v2": ("recaptcha", "k", ("g-recaptcha-response",), "userrecaptcha", "googlekey"),
    "hcaptcha": ("hcaptcha", "sitekey", ("h-captcha-response", "g-recaptcha-response"), "hcaptcha", "sitekey"),
}

_SITE_KEY_JS = """([hint, param]) => {
  const el = document.querySelector('[data-sitekey]');
  if (el) return el.getAttribute('data-sitekey');
  for (const f of document.querySelectorAll('iframe[src*="' + hint + '"]')) {
    const url = new URL(f.src, location.href);
    const k = url.searchParams.get(param) || new URLSearchParams(url.hash.slice(1)).get(param);
    if (k) return k;
  }
  return null;
}"""

_INJECT_JS = """([token, callCallback, names]) => {
  let fields = document.querySelectorAll(names.map(n => 'textarea[name="' + n + '"], #' + n).join(', '));
  if (!fields.length) {
    const t = document.createElement('textarea');
    t.name = names[0];
    t.style.display = 'none';
    (document.querySelector('[data-sitekey]') || document.forms[0] || document.body).appendChild(t);
    fields = [t];
  }
  for (const f of fields) { f.value = token; f.innerHTML = token; }
  if (!callCallback) return 'none';
  const el = document.querySelector('[data-sitekey][data-callback]');
  const name = el && el.getAttribute('data-callback');
  if (name && typeof window[name] === 'function') { window[name](token); return name; }
  const seen = new Set();
  const walk = (o, depth) => {
    if (!o || typeof o !== 'object' || depth > 4 || seen.has(o)) return null;
    seen.add(o);
    for (const k of Object.keys(o)) {
      if (k === 'callback' && typeof o[k] === 'function') return o[k];
      const found = walk(o[k], depth + 1);
      if (found) return found;
    }
    return null;
  };
  const cb = walk(window.___grecaptcha_cfg && window.___grecaptcha_cfg.clients, 0);
  if (cb) { cb(token); return 'grecaptcha client'; }
  return 'none';
}"""


def _page_of(session: str) -> Any:
    found = context().resources.get(f"browser:{session}")
    if found is None:
        raise StepError(
            f"no browser session named '{session}' is open: open it with browser.open first",
            kind="browser",
            retryable=False,
        )
    return found.page


async def _widget_task(page: Any, params: SolveCaptchaParams) -> dict[str, str]:
    hint, param, _fields, method, key_name = _WIDGETS[params.kind]
    site_key = params.site_key or await page.evaluate(_SITE_KEY_JS, [hint, param])
    if not site_key:
        raise StepError(
            f"no {params.kind} widget on {page.url}: no element with data-sitekey and no {hint} iframe; give site_key",
            kind="captcha_not_found",
            retryable=True,
        )
    task = {"method": method, key_name: str(site_key), "pageurl": page.url}
    if params.kind == "recaptcha_v2":
        task.update({k: "1" for k, on in (("invisible", params.invisible), ("enterprise", params.enterprise)) if on})
    return task


async def _image_task(page: Any, params: SolveCaptchaParams) -> dict[str, str]:
    assert params.image is not None  # the params model requires it for this kind
    found = await locate(page, params.image, timeout_s=min(params.timeout_s, 30.0))
    png: bytes = await found.locator.screenshot(type="png", animations="disabled")
    task = {"method": "base64", "body": base64.b64encode(png).decode("ascii")}
    if params.case_sensitive:
        task["regsense"] = "1"
    return task


@step(
    "browser.solve_captcha",
    params=SolveCaptchaParams,
    output="`{kind, captcha_id, answer}`: the service's task id and the token or text it returned.",
    capability="browser",
)
async def solve_captcha(params: SolveCaptchaParams) -> dict[str, Any]:
    """Solve a reCAPTCHA v2, hCaptcha or image CAPTCHA with a 2captcha-style service.

    The API key comes from a credential (`credential`, by name). For reCAPTCHA v2 and hCaptcha
    the site key is read from the page unless given; the token is written into the widget's
    response fields and its callback is called, so the form can be submitted next. For an image the
    picture is sent and the answer typed into `answer_field`.

    Example node:
        {"id": "captcha", "type": "browser.solve_captcha",
         "params": {"credential": "captcha.api_key", "kind": "recaptcha_v2"}}

    Errors: `credential` (wrong key, not retryable), `captcha_balance` (no money left),
    `captcha_busy` / `captcha_unsolvable` / `captcha_service` (retryable), `timeout`
    (no answer in `timeout_s`), `captcha_not_found` (no widget on the page).
    """
    try:
        import httpx
    except ImportError:
        raise MissingDependency("httpx", extra="browser") from None
    ctx = context()
    key = ctx.secret(params.credential)
    page = _page_of(params.session)
    with map_playwright_errors(f"read the {params.kind} CAPTCHA on {page.url}"):
        task = await (_image_task if params.kind == "image" else _widget_task)(page, params)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as client:
        captcha_id, answer = await _solve(client, params, key, task)
    with map_playwright_errors(f"put the {params.kind} CAPTCHA answer in {page.url}"):
        if params.kind != "image":
            fields = list(_WIDGETS[params.kind][2])
            called = await page.evaluate(_INJECT_JS, [answer, params.call_callback, fields])
            ctx.log(f"{params.kind} token injected (callback: {called})")
        elif params.answer_field is not None:
            found = await locate(page, params.answer_field, timeout_s=30.0)
            await found.locator.fill(answer)
    return {"kind": params.kind, "captcha_id": captcha_id, "answer": answer}
