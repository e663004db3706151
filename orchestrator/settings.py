"""Orchestrator settings: environment variables with the `RPA_` prefix.

Zero configuration works: the data dir defaults to `~/.local/share/rpa-orchestrator` (or
`$XDG_DATA_HOME`), the database to a SQLite file in it, and the signing secret and vault master
key are created there on first start (files with mode 0600). Outside development, a secret
given explicitly must not be a known placeholder or too short.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.protocol import MAX_FRAME_BYTES

SAFE_ARTIFACT_TYPES = (
    "application/octet-stream",
    "application/pdf",
    "application/json",
    "application/zip",
    "application/gzip",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "text/plain",
    "text/csv",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
)
"""Types no browser runs as a page (never text/html, image/svg+xml or anything with script)."""

WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "dev", "development", "test", "default"}
MIN_SECRET_LENGTH = 32


PRIVATE_UMASK = 0o077


def private_files() -> None:
    """Make every file and folder this process creates private to its user (umask 077): the
    database, its WAL and SHM, keys, artifacts. Every `rpa` command of the orchestrator calls it
    first, so whichever creates the data dir, it is 0700; the modes are also set explicitly
    where a file is made (`private_dir`, `private_sqlite`)."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """`path` made if missing (with its parents) as 0700, and made 0700 if it was just made."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    return path


def private_sqlite(url: str) -> None:
    """Create the file of a SQLite `url` as 0600 before SQLite does (it would make it 0644 under
    the default umask); SQLite gives its -wal and -shm files the database file's mode."""
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return
    path = Path(url.removeprefix(prefix).split("?", 1)[0])
    if path.exists():
        return
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rpa-orchestrator"


class Settings(BaseSettings):
    """Everything the orchestrator can be told through the environment."""

    model_config = SettingsConfigDict(env_prefix="RPA_", extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(default=None, description="Default: SQLite file in the data dir.")
    secret_key: SecretStr | None = Field(default=None, description="Signs access tokens.")
    master_key: SecretStr | None = Field(default=None, description="Wraps the vault's data keys (base64, 32 bytes).")
    master_key_previous: SecretStr | None = Field(default=None, description="Unwraps too, during a rotation.")
    access_token_ttl_s: int = Field(default=900, ge=60)
    refresh_token_ttl_s: int = Field(default=30 * 86400, ge=300)
    rate_limit_per_minute: int = Field(default=1200, ge=1, description="Per IP and per user, on the API.")
    login_rate_limit_per_minute: int = Field(default=20, ge=1, description="Per IP, on login endpoints.")
    org_creation: Literal["instance_admins", "members"] = Field(
        default="instance_admins",
        description=(
            "Who may create organisations with POST /orgs: instance admins (`rpa admin create` makes one), or "
            "any member of any organisation."
        ),
    )
    account_creation: Literal["instance_admins", "org_admins"] = Field(
        default="instance_admins",
        description=(
            "Who may create new accounts with POST /users: instance admins, or anyone holding users:manage in an "
            "organisation. E-mail addresses are unique on the instance, so org_admins lets those people learn "
            "whether an address has an account (409 user_exists); others invite with POST /invitations."
        ),
    )
    invitation_ttl_s: int = Field(
        default=7 * 86400, ge=300, le=90 * 86400, description="How long an invitation can be accepted."
    )
    login_lockout_threshold: int = Field(
        default=10,
        ge=1,
        le=1000,
        description=(
            "Failed logins for one e-mail address from one client address before that pair is locked out, "
            "whatever the organisations' policies say."
        ),
    )
    login_lockout_minutes: int = Field(default=15, ge=1, le=1440)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "Proxies (addresses or networks) whose X-Forwarded-For is believed; the only such setting "
            "(uvicorn's own proxy-header handling is off)."
        ),
    )
    sql_echo: bool = False
    read_cache_s: float = Field(
        default=1.0,
        ge=0,
        description=(
            "How long the rows read on nearly every request (a session's facts: revoked, user and membership "
            "active, role; the version a start pins; the webhook trigger a URL names) are believed without "
            "reading them again; a change this "
            "process commits ends that at once (0: read on every request)."
        ),
    )
    audit_checkpoint_s: float = Field(
        default=60.0,
        gt=0,
        description="How often a signed checkpoint of every audit chain whose head moved is "
        "written to <data dir>/audit-checkpoints (docs/security.md, 'Audit log').",
    )
    heartbeat_interval_s: float = Field(default=10.0, gt=0, description="How often agents send a heartbeat.")
    missed_heartbeats: int = Field(default=3, ge=1, description="Beats missed before an agent is unresponsive.")
    agent_grace_s: float = Field(
        default=10.0,
        ge=0,
        description=("How long a disconnected (or unresponsive) agent keeps its executions before they are requeued."),
    )
    agent_handshakes: int = Field(
        default=16,
        ge=1,
        description=(
            "Agent handshakes (key lookup, hello reconciliation) run at once; the others wait, so that API "
            "requests stay quick while thousands of agents reconnect."
        ),
    )
    agent_handshake_wait_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "The longest expected wait (the handshakes queued ahead, at the measured admission rate) a new "
            "agent connection is queued for; past it, it is answered HTTP 503 with a Retry-After before it is "
            "accepted. A queued one that waits this long on top of twice its expected wait is answered the same "
            "(or closed with 1013 if its hello waited)."
        ),
    )
    agent_handshake_queue: int = Field(
        default=512,
        ge=1,
        description=(
            "Agent handshakes that may wait for admission at most, whatever their expected wait; a connection "
            "past it is answered HTTP 503 with a Retry-After. Kept small: a refusal costs the server one write "
            "(it is answered at the HTTP parser), while a queued connection is upgraded, and if it then waits in "
            "vain it is refused all the same."
        ),
    )
    agent_handshake_retry_max_s: float = Field(
        default=60.0,
        ge=1,
        description=(
            "The longest Retry-After a refused agent connection is given (turns that would fall later are "
            "drawn from its second half, so the last agents do not come back together). Keep it under the time a fleet "
            "needs to reconnect, and mind that an agent away longer than agent_grace_s has its executions requeued."
        ),
    )
    lease_margin_s: float | None = Field(
        default=None,
        ge=0,
        description=(
            "Added to the grace before a gone agent's executions are requeued: the agent is told its lease "
            "(the grace) and fences itself when it runs out by its own clock, counted from before the last "
            "acknowledgement was sent; the margin covers the drift between the two clocks over a lease and "
            "the reaper's rhythm. Default: a fifth of the grace."
        ),
    )
    assign_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "How long a connected agent has to confirm a job it was sent (job.accepted, job.rejected, or a "
            "heartbeat listing it) before the job counts as lost on the way and is requeued."
        ),
    )
    idempotency_ttl_s: float = Field(
        default=86400.0,
        gt=0,
        description=(
            "How long the Idempotency-Key of a start is kept: a retry with the same key within it gets the "
            "executions of the first request, and stores nothing new."
        ),
    )
    triggers_run: bool = Field(
        default=True,
        description=(
            "Run schedule and source triggers, and the sweeps that fire chain and execution-event news a "
            "process died before firing, in this process (leased per trigger: with several processes on one "
            "database each trigger runs in one). Webhooks, events and chains are served either way."
        ),
    )
    trigger_lease_s: float = Field(
        default=15.0, ge=1, le=600, description="How long a process holds a trigger without renewing its lease."
    )
    trigger_tick_s: float = Field(
        default=1.0, gt=0, le=60, description="How often the trigger runner renews leases and looks for changes."
    )
    trigger_events_kept: int = Field(
        default=1000, ge=10, le=1_000_000, description="Events kept per trigger (the newest; older are deleted)."
    )
    max_webhook_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest webhook body the server reads (a trigger's own `max_body_bytes` may be lower).",
    )
    ai_credential: str = Field(
        default="anthropic",
        max_length=200,
        description="The vault credential (of each organisation) holding its Anthropic API key (a token).",
    )
    ai_base_url: str | None = Field(default=None, description="The Messages API's base URL (default: Anthropic's).")
    ai_model: str = Field(default="claude-sonnet-4-5", max_length=200, description="The model the AI routes ask.")
    ai_max_tokens: int = Field(default=8192, ge=256, le=64000, description="Largest answer of one model call.")
    ai_timeout_s: float = Field(default=60.0, gt=0, le=600, description="Timeout of one model call.")
    ai_max_retries: int = Field(default=1, ge=0, le=5, description="Retries of a failed model call (SDK).")
    ai_max_attempts: int = Field(
        default=3, ge=1, le=10, description="Answers asked for before an invalid flow or patch is given up (422)."
    )
    ai_requests_per_minute: int = Field(default=20, ge=1, description="AI requests per organisation per minute.")
    cancel_grace_s: float = Field(
        default=30.0,
        ge=0,
        description=("After a cancel request, how long an agent has to stop before the execution is cancelled anyway."),
    )
    max_artifact_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Largest artifact an agent may upload."
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest request body of a route not below.")
    max_anonymous_body_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description=("Largest request body of a caller without a validly signed token (login, refresh, enrolment)."),
    )
    max_flow_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description=("Largest body creating or changing a workflow (its document holds at most 2 MiB)."),
    )
    max_import_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Largest bundle import.")
    max_start_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest start request.")
    max_batch_start_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="Largest batch of starts.")
    max_credential_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest body creating, changing or rotating a credential (a file credential holds at most 1 MiB)."
        ),
    )
    max_asset_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1, description="Largest file a workflow's assets may hold (an image target)."
    )
    max_version_asset_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="Bytes of all the assets of one draft or version together."
    )
    max_assets: int = Field(default=500, ge=1, description="Files one draft or version may hold as assets.")
    max_asset_upload_body_bytes: int = Field(
        default=52 * 1024 * 1024, ge=1024, description="Largest body of an asset upload (several files at once)."
    )
    max_artifact_bytes_per_execution: int = Field(
        default=1024**3, ge=1, description=("Artifact bytes one execution may keep (all its uploads together).")
    )
    max_artifact_bytes_per_org: int = Field(
        default=20 * 1024**3, ge=1, description=("Artifact bytes one organisation may keep.")
    )
    artifact_store: str = Field(
        default="",
        description=(
            "Where artifact files are kept: empty for <data_dir>/artifacts, a folder path or file:// URL, or an "
            "fsspec URL such as s3://bucket/prefix (needs the storage extra)."
        ),
    )
    artifact_store_options: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            'Options (JSON) for the artifact store\'s file system, e.g. {"endpoint_url": "http://minio:9000"}; '
            "credentials may also come from the library's environment (AWS_ACCESS_KEY_ID...). Never logged."
        ),
        repr=False,
    )
    artifact_retention_days: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Days artifacts are kept where neither the organisation nor the workflow set a retention rule "
            "(empty: for ever)."
        ),
    )
    artifact_purge_interval_s: float = Field(
        default=3600.0, gt=0, description="Seconds between passes of the artifact retention purge."
    )
    artifact_content_types: list[str] = Field(
        default_factory=lambda: list(SAFE_ARTIFACT_TYPES),
        description=(
            "Content types an agent's artifact keeps; any other is stored and served as application/octet-stream."
        ),
    )
    api_docs: Literal["public", "authenticated", "off"] = Field(
        default="public",
        description=(
            "Who may read /docs, /redoc and /openapi.json: anyone, a caller with a validly signed access "
            "token, or nobody (404)."
        ),
    )
    metrics_token: SecretStr | None = Field(
        default=None, description=("When set, /metrics answers only requests with Authorization: Bearer <this token>.")
    )
    max_frame_bytes: int = Field(
        default=MAX_FRAME_BYTES,
        ge=1024,
        description=("Largest WebSocket message accepted (shared.protocol.MAX_FRAME_BYTES, 4 MiB, by default)."),
    )
    agent_log_bytes_per_minute: int = Field(
        default=256 * 1024,
        ge=1024,
        description=(
            "Log text one agent connection may have written to the orchestrator's log per minute; lines past it "
            "are dropped and counted."
        ),
    )
    ws_compression: bool = Field(
        default=False,
        description=(
            "permessage-deflate on WebSockets: less traffic for large flows and journals, about 40 KiB more "
            "memory and more CPU per connected agent."
        ),
    )
    gc_full_every_s: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "`rpa orchestrator` freezes long-lived objects out of the garbage collector's way and runs one "
            "full collection this often (0: never; see orchestrator/gc_policy.py)."
        ),
    )
    gc_young_threshold: int = Field(
        default=20_000,
        ge=0,
        description=(
            "`rpa orchestrator` collects the garbage collector's youngest generation after this many "
            "allocations (Python's default: 700; 0 keeps it)."
        ),
    )

    @property
    def lease_margin(self) -> float:
        """`lease_margin_s`, or a fifth of the grace when it is not set."""
        return self.lease_margin_s if self.lease_margin_s is not None else self.agent_grace_s / 5

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return [entry.strip() for entry in entries]

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for name in ("secret_key", "master_key"):
            value = getattr(self, name)
            if value is None:
                continue
            raw = value.get_secret_value()
            if raw.lower() in WEAK_SECRETS or len(raw) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"RPA_{name.upper()} is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; "
                    "set a random value (or leave it unset to have one generated in the data dir)"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL; the embedded default is a SQLite file in the data dir."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'orchestrator.db'}"

    def ensure_secrets(self) -> tuple[str, str]:
        """(signing secret, master key): given, or read from / created in the data dir (0600)."""
        # The data dir holds the database and the keys: private to the service's user.
        private_dir(self.data_dir)
        signing = (
            self.secret_key.get_secret_value()
            if self.secret_key
            else _file_secret(self.data_dir / "secret.key", lambda: secrets.token_urlsafe(48))
        )
        master = (
            self.master_key.get_secret_value()
            if self.master_key
            else _file_secret(self.data_dir / "master.key", _new_master_key)
        )
        return signing, master


def _new_master_key() -> str:
    import base64

    return base64.b64encode(secrets.token_bytes(32)).decode()


def _file_secret(path: Path, make: object) -> str:
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
        return path.read_text(encoding="utf-8").strip()
    value = make()  # type: ignore[operator]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(str(value))
    return str(value)
