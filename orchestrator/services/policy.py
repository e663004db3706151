"""Per-organisation password policy: length, character classes, reuse, maximum age."""

from __future__ import annotations

import string

from pydantic import BaseModel, ConfigDict, Field


class PasswordPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_length: int = Field(default=12, ge=8, le=128)
    min_classes: int = Field(default=2, ge=1, le=4, description="Of lower, upper, digit, symbol.")
    history: int = Field(default=5, ge=0, le=24, description="Earlier passwords that may not be reused.")
    max_age_days: int | None = Field(default=None, ge=1, le=3650)
    lockout_threshold: int = Field(default=5, ge=1, le=100, description="Failed logins before a lockout.")
    lockout_minutes: int = Field(default=15, ge=1, le=1440)

    def problems(self, password: str, *, email: str | None = None) -> list[str]:
        """What the password lacks, as phrases ('is shorter than 12 characters')."""
        found = []
        if len(password) < self.min_length:
            found.append(f"is shorter than {self.min_length} characters")
        classes = sum(
            any(c in group for c in password)
            for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
        ) + any(not c.isalnum() for c in password)
        if classes < self.min_classes:
            found.append(f"uses {classes} kind(s) of character; at least {self.min_classes} of lower case, "
                         "upper case, digits and symbols are needed")
        if email and email.split("@")[0].lower() in password.lower() and len(email.split("@")[0]) >= 4:
            found.append("contains the e-mail's name")
        return found
