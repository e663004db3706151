"""Who is calling and from where: what services check a caller's rights against."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass

from orchestrator.security.permissions import Permission


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, within one organisation."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    role: str
    permissions: frozenset[str]
    password_expired: bool = False

    def can(self, permission: Permission) -> bool:
        return permission.value in self.permissions


def ip_allowed(ip: str, allowlist: list[str]) -> bool:
    """Whether `ip` is inside one of the networks of `allowlist` (an empty list allows all)."""
    if not allowlist:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowlist)
