"""Permissions, and the built-in roles as sets of them.

Every route declares the one permission it needs (`require(Permission.X)`); a custom role is
any subset of these.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    ORG_READ = "org:read"
    ORG_MANAGE = "org:manage"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    ROLES_MANAGE = "roles:manage"
    SESSIONS_MANAGE = "sessions:manage"
    WORKFLOWS_READ = "workflows:read"
    WORKFLOWS_WRITE = "workflows:write"
    WORKFLOWS_PUBLISH = "workflows:publish"
    WORKFLOWS_DELETE = "workflows:delete"
    EXECUTIONS_READ = "executions:read"
    EXECUTIONS_START = "executions:start"
    EXECUTIONS_CANCEL = "executions:cancel"
    CREDENTIALS_READ = "credentials:read"
    CREDENTIALS_MANAGE = "credentials:manage"
    AGENTS_READ = "agents:read"
    AGENTS_MANAGE = "agents:manage"
    TRIGGERS_READ = "triggers:read"
    TRIGGERS_MANAGE = "triggers:manage"
    AUDIT_READ = "audit:read"


ALL = frozenset(Permission)
READ = frozenset(p for p in Permission if p.value.endswith(":read"))

BUILTIN_ROLES: dict[str, frozenset[Permission]] = {
    "owner": ALL,
    "admin": ALL,
    "designer": READ - {Permission.AUDIT_READ, Permission.USERS_READ}
    | {
        Permission.WORKFLOWS_WRITE,
        Permission.WORKFLOWS_PUBLISH,
        Permission.WORKFLOWS_DELETE,
        Permission.EXECUTIONS_START,
        Permission.EXECUTIONS_CANCEL,
        Permission.TRIGGERS_MANAGE,
    },
    "operator": frozenset(
        {
            Permission.ORG_READ,
            Permission.WORKFLOWS_READ,
            Permission.EXECUTIONS_READ,
            Permission.EXECUTIONS_START,
            Permission.EXECUTIONS_CANCEL,
            Permission.AGENTS_READ,
            Permission.TRIGGERS_READ,
            Permission.CREDENTIALS_READ,
        }
    ),
    "viewer": frozenset(
        {
            Permission.ORG_READ,
            Permission.WORKFLOWS_READ,
            Permission.EXECUTIONS_READ,
            Permission.AGENTS_READ,
            Permission.TRIGGERS_READ,
        }
    ),
}
"""Owner and admin hold every permission; only an owner may grant or remove the owner role."""
