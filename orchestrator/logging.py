"""Secret masking for the orchestrator's logs: a structlog processor and a stdlib logging filter.

Two layers, both applied to every message, argument, extra field and traceback:

- Values the vault has accepted or revealed in this process (`remember`): every form of them
  that `shared.expressions.SecretMasker` knows (plain, JSON-escaped, URL-quoted) becomes `***`.
  Strings shorter than `MIN_REMEMBERED_LENGTH` are not remembered: masking every "1" or "yes"
  in every log line would make the logs unreadable while hiding nothing worth a secret.
- Patterns that look like credentials whatever their origin: `Authorization` headers, `password=…`
  style assignments (also JSON `"password": "…"`), JWTs and opaque `rt_…`/`et_…` tokens; and in
  structured events, the value of any key named like a secret (`password`, `token`, …).

Install with `install()` (adds the filter to the root and uvicorn handlers) and put
`mask_processor` before the renderer in structlog's processor chain.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from shared.expressions import SecretMasker

MASK = "***"
MIN_REMEMBERED_LENGTH = 4
MAX_REMEMBERED_LENGTH = 4096
"""Longer values (file contents) are not turned into masking patterns; they never appear whole in a log line."""

MASKER = SecretMasker()
"""Process-wide: every secret value the vault handled in this process."""

_SECRET_NAMES = (
    r"(?:password|passwd|pwd|passphrase|secret|client[_-]?secret|secret[_-]?key|api[_-]?key|"
    r"access[_-]?token|refresh[_-]?token|auth[_-]?token|token|private[_-]?key|master[_-]?key)"
)
SENSITIVE_KEY = re.compile(
    r"(?:^|[_.-])(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|private[_-]?key)$"
    r"|^(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key)$",
    re.IGNORECASE,
)
"""Names of fields whose whole value is a secret (`password`, `db_password`, `access_token`; not `max_tokens`)."""


def _authorization(match: re.Match[str]) -> str:
    scheme = match.group(2)
    return f"{match.group(1)}{scheme} {MASK}" if scheme else f"{match.group(1)}{MASK}"


def _assignment(match: re.Match[str]) -> str:
    value = match.group(2)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{quote}{MASK}{quote}"


_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    # Authorization: Bearer abc / "authorization": "Basic abc" / ('authorization', 'Bearer abc')
    (
        re.compile(r"""(?i)(authorization["']?\s*[:=,]\s*["']?)(?:(bearer|basic|token|digest)\s+)?[^\s"',;)]+"""),
        _authorization,
    ),
    # password=abc, "password": "abc", token: abc (a quoted value may contain spaces)
    (re.compile(rf"""(?i)(\b{_SECRET_NAMES}["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}}\]]+)"""), _assignment),
    # A bearer or basic credential on its own (a header value logged without its name)
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/-]{8,}=*"), rf"\g<1> {MASK}"),
    # JWTs (header.payload.signature, the first two parts base64url JSON)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # Agent keys and enrolment tokens (`rpa_ak_…`, `rpa_et_…`)
    (re.compile(r"\brpa_(ak|et)_[A-Za-z0-9_-]{16,}"), rf"rpa_\g<1>_{MASK}"),
    # Opaque refresh and enrolment tokens (`rt_…`, `et_…`)
    (re.compile(r"\b(rt|et)_[A-Za-z0-9_-]{16,}"), rf"\g<1>_{MASK}"),
]


_SHAPED = re.compile(r"rpa_(?:ak|et)_[A-Za-z0-9_-]{16,}|(?:rt|et)_[A-Za-z0-9_-]{16,}")
"""Tokens the patterns above mask by their shape wherever they appear (agent keys, enrolment and
refresh tokens): not remembered one by one. An orchestrator mints them by the thousand (one per
enrolment or key rotation), and every remembered value made every later one and every masked log
line slower, without bound over the process's life."""


def remember(value: Any) -> None:
    """Mask every string inside `value` (a str, or a JSON-like dict/list of them) from now on."""
    for text in _strings(value):
        if MIN_REMEMBERED_LENGTH <= len(text) <= MAX_REMEMBERED_LENGTH and not _SHAPED.fullmatch(text):
            MASKER.add(text)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _strings(item)


_HINTS = ("authorization", "pass", "pwd", "secret", "key", "token", "bearer", "basic", "eyj", "rpa_", "rt_", "et_")
"""Every pattern above needs one of these (in lower case) to match: ASCII text that has none is
left as it is without running the patterns, which most log lines would otherwise pay for."""


def mask_text(text: str) -> str:
    """Known secret values, then credential-like patterns, replaced by `***`."""
    text = MASKER.mask_text(text)
    if text.isascii():  # other text may spell a name with letters that match case-insensitively
        lowered = text.lower()
        if not any(hint in lowered for hint in _HINTS):
            return text
    return _mask_patterns(text)


def _mask_patterns(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_value(value: Any, *, key: str | None = None) -> Any:
    """A masked copy of a JSON-like value (strings masked, secret-named keys' values replaced)."""
    if key is not None and SENSITIVE_KEY.search(key) and isinstance(value, str | Mapping | list | tuple) and value:
        return MASK  # a flag such as `"password": true` (changed) says nothing secret and stays
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_value(v, key=k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if (
            len(value) == 2
            and isinstance(value[0], str | bytes)
            and value[1]
            and SENSITIVE_KEY.search(value[0].decode("latin-1") if isinstance(value[0], bytes) else value[0])
        ):
            pair = (value[0], MASK)  # a (name, value) pair, as headers are often logged
            return pair if isinstance(value, tuple) else list(pair)
        return type(value)(mask_value(item) for item in value)
    return value


def mask_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: masks the event and every field. Put it after `format_exc_info` (so
    tracebacks are text by then) and before the renderer."""
    for key, value in list(event_dict.items()):
        if value is None or isinstance(value, bool | int | float):
            continue
        if key in ("exc_info", "stack_info") and not isinstance(value, str):
            continue  # still an exception object: a later processor renders it; see the docstring
        if not isinstance(value, str | Mapping | list | tuple):
            value = repr(value)  # what the renderer would print, masked before it can
        event_dict[key] = mask_value(value, key=key)
    return event_dict


class SecretMaskingFilter(logging.Filter):
    """stdlib filter: renders the message with its arguments, masks it, and masks the traceback.

    Attach it to handlers (a logger's own filters do not see records from its children).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg} {record.args!r}"
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = _masked_template(record, masked)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str | Mapping | list | tuple):
                setattr(record, name, mask_value(value, key=name))
        return True


def _masked_template(record: logging.LogRecord, masked: str) -> tuple[Any, Any]:
    """(msg, args) that render as `masked`. Arguments masked one by one keep the record's shape
    (uvicorn's access formatter unpacks `args`); when that does not give the same text (a pattern
    spanning the template and an argument), the rendered, masked text replaces both."""
    if isinstance(record.args, tuple) and isinstance(record.msg, str):
        args = tuple(mask_text(a) if isinstance(a, str) else a for a in record.args)
        try:
            if record.msg % args == masked:
                return mask_text(record.msg), args
        except (TypeError, ValueError):
            pass
    return masked, None


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

_FILTER = SecretMaskingFilter()


def install(loggers: Iterable[str] = ("", "uvicorn", "uvicorn.error", "uvicorn.access")) -> None:
    """Add the masking filter to every handler of these loggers (idempotent)."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, SecretMaskingFilter) for f in handler.filters):
                handler.addFilter(_FILTER)


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Logging for a served orchestrator: `rpa.*` records go to `stream` (stderr) through the
    masking filter, structlog renders through `mask_processor`, and uvicorn's handlers get the
    filter too. Called by `rpa orchestrator`; tests keep pytest's own logging set-up."""
    import structlog

    rpa = logging.getLogger("rpa")
    if not any(isinstance(f, SecretMaskingFilter) for h in rpa.handlers for f in h.filters):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_FILTER)
        rpa.addHandler(handler)
        rpa.propagate = False
    rpa.setLevel(level)
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            mask_processor,
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    install()
