"""Per-organisation password policy: length, character classes, strength, common passwords,
reuse, maximum age, lockout.

Pure rules, no I/O: the services apply them (reuse needs the stored history hashes, so its
check lives in `services/auth.py`; `history` here says how far back it looks).
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.security import strength


class PasswordPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_length: int = Field(default=12, ge=8, le=128)
    min_classes: int = Field(default=2, ge=1, le=4, description="Of lower, upper, digit, symbol.")
    min_strength: int = Field(
        default=3, ge=0, le=4, description=("Least zxcvbn score (0 trivial - 4 very hard); 0 turns the estimate off.")
    )
    reject_common: bool = Field(
        default=True, description=("Refuse common passwords, and common words padded with digits or symbols.")
    )
    banned_words: list[str] = Field(
        default_factory=list,
        max_length=200,
        description=("The organisation's own words (its name, products) that a password may not be built on."),
    )
    history: int = Field(default=5, ge=0, le=24, description="Earlier passwords that may not be reused.")
    max_age_days: int | None = Field(default=None, ge=1, le=3650)
    lockout_threshold: int = Field(default=5, ge=1, le=100, description="Failed logins before a lockout.")
    lockout_minutes: int = Field(default=15, ge=1, le=1440)

    def problems(self, password: str, *, email: str | None = None, context: Iterable[str] = ()) -> list[str]:
        """What the password lacks, as phrases ('is shorter than 12 characters').

        `context` names words an attacker would try first (the user's name, the organisation's).
        """
        found = []
        if len(password) < self.min_length:
            found.append(f"is shorter than {self.min_length} characters")
        classes = sum(
            any(c in group for c in password)
            for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
        ) + any(not c.isalnum() for c in password)
        if classes < self.min_classes:
            found.append(
                f"uses {classes} kind(s) of character; at least {self.min_classes} of lower case, "
                "upper case, digits and symbols are needed"
            )
        local = email.split("@")[0].lower() if email else ""
        if local and local in password.lower() and len(local) >= 4:
            found.append("contains the e-mail's name")
        words = [local, *context, *self.banned_words]
        if self.reject_common and strength.common_core(password, self.banned_words):
            found.append("is a common password, or a common word with digits or symbols around it")
        if self.min_strength:
            verdict = strength.estimate(password, words)
            if verdict.score < self.min_strength:
                why = f": {verdict.warning.rstrip('.')}" if verdict.warning else ""
                found.append(
                    f"is too easy to guess (strength {verdict.score} of 4, at least {self.min_strength} needed){why}"
                )
        return found

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> PasswordPolicy:
        """The policy kept on an organisation row; an unreadable one falls back to the defaults
        rather than locking everybody out (it was validated when it was written)."""
        known = {k: v for k, v in (stored or {}).items() if k in cls.model_fields}
        try:
            return cls.model_validate(known)
        except ValidationError:
            return cls()

    def expired(self, changed_at: datetime, now: datetime | None = None) -> bool:
        """True when the password is older than `max_age_days`."""
        if self.max_age_days is None:
            return False
        return (now or datetime.now(UTC)) - changed_at > timedelta(days=self.max_age_days)
