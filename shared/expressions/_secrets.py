"""Secrets in templates: resolved lazily, remembered by a masker, never listed.

A flow reads a credential as ``{{ secrets.db_password }}``. The ``secrets`` name in scope is a
`SecretsNamespace`: it asks its resolver for a value only when a template looks the name up,
and hands every value it returns to a `SecretMasker` first, so that whatever logs or reports
the run produces afterwards can be masked with `SecretMasker.mask` / `SecretMasker.mask_text`.

The namespace cannot be enumerated: iterating it yields nothing, so no template (``{{ secrets
| list }}``, ``{{ secrets.items() | list }}``) can discover or dump the vault.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from ._errors import UnknownSecretError

__all__ = ["SecretMasker", "SecretsNamespace"]

MASK = "***"


MIN_PREFIX = 6
"""A cut of a secret (``secrets.x[:8]``) is masked from this many leading characters on."""
MAX_TRANSFORMED = 4096
"""Transformed forms are added for values up to this length; a longer value (a file's content)
is masked in its plain, JSON and URL forms only (each form of a megabyte costs seconds to compile)."""
MAX_PREFIXED = 256
"""Prefix masking follows a secret up to this length (a longer value is masked whole or from
its first `MIN_PREFIX` characters on, up to this many)."""


def _encodings(value: str) -> set[str]:
    """The forms a secret commonly takes in logs besides its plain text.

    A password is often logged inside a JSON document or a URL, where it appears escaped; and
    a flow may transform it before it reaches an output: reversed, stripped, base64-encoded or
    in another case (mixed case is matched by the pattern itself, which ignores case). Masking
    cannot follow every transformation; access control decides who may read a secret at all,
    and this is defence in depth.
    """
    forms = {value, json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""), quote_plus(value)}
    if len(value) > MAX_TRANSFORMED:
        forms.discard("")
        return forms
    raw = value.encode()
    forms |= {value.upper(), value.lower(), value[::-1], value.strip(), "".join(value.split())}
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms |= {encoded, encoded.rstrip("=")}
    forms.discard("")
    return forms


_CUT_END = r"(?![\w-])"
"""A cut ends where a word does: text that goes on with other word characters after a shared
prefix is another value (every agent key starts `rpa_ak_`), not a cut of this one."""


def _prefix_pattern(value: str) -> str | None:
    """A regex for any cut of `value` that keeps at least its first `MIN_PREFIX` characters, as
    long as the text goes on matching and then ends its word (nested groups: linear in the
    value's length). A cut as long as `MAX_PREFIXED` is masked whatever follows it."""
    if len(value) <= MIN_PREFIX:
        return None
    head, rest = value[:MIN_PREFIX], value[MIN_PREFIX:MAX_PREFIXED]
    tail = ""
    for char in reversed(rest):
        tail = f"(?:{re.escape(char)}{tail}|{_CUT_END})"
    return re.escape(head) + tail


class SecretMasker:
    """Replaces every known secret value in text and JSON-like data with ``***``.

    Any non-empty value is masked, however short. A very short secret (``"a"``, ``"42"``)
    will also hide unrelated occurrences of the same characters and make logs harder to read;
    that is the price of never printing a credential.

    The masker is shared by every thread of a run; adding and masking may happen concurrently.
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._prefixes: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._matcher: tuple[re.Pattern[str], dict[str, str]] | None = None
        """`_pattern` and its memo, read as one value by `mask` (a concurrent `add` replaces both)."""
        self._stale = False
        """Secrets were added since `_matcher` was made."""
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Remember a secret value so that it is masked from now on.

        Args:
            value: The secret. Empty strings are ignored (there is nothing to hide).
        """
        if not value:
            return
        forms = _encodings(value)
        prefixes = (
            {pattern for form in (value, value[::-1]) if (pattern := _prefix_pattern(form))}
            if len(value) <= MAX_TRANSFORMED
            else set()
        )
        with self._lock:
            if forms <= self._secrets and prefixes <= self._prefixes:
                return
            self._secrets |= forms
            self._prefixes |= prefixes
            # Compiled on the next use, not here: a regex of every form costs time in proportion
            # to all of them, and a process that learns many secrets in a row (a job's
            # credentials, a run of enrolments) pays for one compile instead of one per value.
            self._stale = True  # before dropping the matcher: a reader that sees none compiles
            self._matcher = None
            self._pattern = None

    def _compiled(self) -> tuple[re.Pattern[str], dict[str, str]] | None:
        matcher = self._matcher
        if matcher is not None or not self._stale:
            return matcher
        with self._lock:
            if self._stale:
                # Longest first: the regex engine takes the first alternative that matches, and a
                # secret that contains another must be masked whole, not around the shorter one.
                # Cuts come last: a whole form is masked as a whole before a cut of it is tried.
                ordered = [re.escape(secret) for secret in sorted(self._secrets, key=len, reverse=True)]
                ordered += sorted(self._prefixes, key=len, reverse=True)
                self._pattern = re.compile("|".join(ordered), re.IGNORECASE) if ordered else None
                self._matcher = (self._pattern, {}) if self._pattern is not None else None
                self._stale = False
            return self._matcher

    def mask_text(self, text: str) -> str:
        """Return ``text`` with every occurrence of every known secret replaced by ``***``."""
        matcher = self._compiled()
        if matcher is None:
            return text
        return matcher[0].sub(MASK, text)

    def mask(self, obj: Any) -> Any:
        """Return a copy of a JSON-like value with every secret masked.

        Strings are masked wherever they appear in dicts (keys included), lists and tuples;
        other values are kept as they are.

        Args:
            obj: Any value.

        Returns:
            A masked copy, or ``obj`` itself when no secret is known yet (nothing can leak, and
            copying every logged event for nothing would be wasted work).
        """
        matcher = self._compiled()
        if matcher is None:
            return obj
        return _mask(obj, *matcher)

    def __repr__(self) -> str:
        return f"<SecretMasker with {len(self._secrets)} masked forms>"


MEMO_MAX_LENGTH = 256
"""Strings up to this length have their masked form remembered (keys, header values, names)."""
MEMO_SIZE = 4096
"""Masked forms remembered at most; the memo starts again when full."""


def _mask(obj: Any, pattern: re.Pattern[str], memo: dict[str, str]) -> Any:
    # The same short strings come back in every event of a run (output keys, header names and
    # values, statuses): the pattern of every form of every secret is run on each only once.
    if isinstance(obj, str):
        masked = memo.get(obj)
        if masked is None:
            masked = pattern.sub(MASK, obj)
            if len(obj) <= MEMO_MAX_LENGTH:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[obj] = masked
        return masked
    if isinstance(obj, Mapping):
        return {_mask(key, pattern, memo): _mask(value, pattern, memo) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_mask(item, pattern, memo) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_mask(item, pattern, memo) for item in obj)
    return obj


class SecretsNamespace(Mapping[str, str]):
    """The ``secrets`` name of a template scope.

    Looking a name up asks the resolver, registers the value with the masker before anyone
    can see it, and caches it for the rest of the run. Iteration and ``len()`` reveal nothing
    and resolve nothing, so the namespace behaves as an empty mapping to anything that tries to
    list it.

    Args:
        resolver: Returns the value of a secret, or ``None`` when there is no such secret.
        masker: Receives every value handed out.
    """

    __slots__ = ("_cache", "_masker", "_missing", "_resolver")

    def __init__(self, resolver: Callable[[str], str | None], masker: SecretMasker) -> None:
        self._resolver = resolver
        self._masker = masker
        self._cache: dict[str, str] = {}
        # Templates look a missing name up more than once (attribute, then item), and the
        # resolver may be a round trip to a vault.
        self._missing: set[str] = set()

    @property
    def masker(self) -> SecretMasker:
        """The masker that every resolved value is added to."""
        return self._masker

    def __getitem__(self, name: str) -> str:
        try:
            return self._cache[name]
        except KeyError:
            pass
        if not isinstance(name, str) or name in self._missing:
            raise UnknownSecretError(str(name))
        value = self._resolver(name)
        if value is None:
            self._missing.add(name)
            raise UnknownSecretError(name)
        self._masker.add(value)
        self._cache[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<secrets>"


def flatten_credentials(values: Mapping[str, Any]) -> dict[str, str]:
    """Credential values as the flat names `secrets.NAME` and `context().secret()` look up.

    `NAME` is the main value (password, token, the file's content, or the only value; a plain
    string is its own main value) and `NAME.field` each string field, so
    `{"erp": {"username": "u", "password": "p"}}` gives `erp` = `p`, `erp.username` = `u`.
    """
    flat: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, str):
            flat[name] = value
            continue
        if not isinstance(value, Mapping):
            continue
        nested = value.get("values")
        fields: Mapping[str, Any] = nested if isinstance(nested, Mapping) else value
        for key, item in fields.items():
            if isinstance(item, str):
                flat[f"{name}.{key}"] = item
        main = fields.get("password") or fields.get("token") or fields.get("content_base64")
        if main is None and len(fields) == 1:
            main = next(iter(fields.values()))
        if isinstance(main, str):
            flat[name] = main
    return flat
