"""How guessable a password is: a strength estimate and a shipped list of common passwords.

Pure functions, no I/O beyond reading the list once. The estimate is zxcvbn's (MIT): it scores
0-4 from the guesses a cracker would need, matching dictionary words, names, keyboard walks,
repeats, sequences and dates against ranked lists that ship inside the package. On top of it,
`common_core` catches the commonest way people satisfy a length-and-classes rule: a common word
padded with digits and symbols (`Summer2024!!`), which zxcvbn alone can rate as strong.
Nothing here returns or logs any part of the password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

MAX_CHECKED = 72
"""zxcvbn's cost grows with the length and 4.5 refuses more than 72 characters: only the first 72
are scored (a longer password is not weaker than its first 72 characters)."""

_PADDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})


@dataclass(frozen=True)
class Strength:
    """zxcvbn's verdict: `score` 0 (trivial) to 4 (very hard), and its warning, if any."""

    score: int
    warning: str


def estimate(password: str, user_inputs: Iterable[str] = ()) -> Strength:
    """Score `password`; `user_inputs` are words an attacker would try first (e-mail, names)."""
    from zxcvbn import zxcvbn  # its ranked lists are 800 kB of Python: loaded on the first check only

    result = zxcvbn(password[:MAX_CHECKED], user_inputs=[w for w in user_inputs if w][:50])
    return Strength(int(result["score"]), str(result["feedback"].get("warning") or ""))


@cache
def _shipped() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@cache
def _ranked() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def core(password: str) -> str:
    """The word inside the padding: digits and symbols around it removed, lower case, common
    letter-for-digit swaps undone (`P@ssw0rd99!` -> `password`)."""
    stripped = _PADDING.sub("", password)
    return stripped.lower().translate(_LEET)


def common_core(password: str, extra: Iterable[str] = ()) -> bool:
    """True when the password is a common password or word, or its core is one (or one of `extra`,
    an organisation's own banned words)."""
    banned = {w.strip().lower() for w in extra if w.strip()}
    inner = core(password)
    if not inner:
        return True  # nothing but digits and symbols
    candidates = {password.lower(), _PADDING.sub("", password).lower(), inner}
    return any(c in _shipped() or c in _ranked() or c in banned for c in candidates)
