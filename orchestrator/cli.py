"""`rpa orchestrator`, `rpa db …`, `rpa admin …`, `rpa vault …`: the server's command-line side.

Registered under the `rpa.cli` entry-point group, so the core CLI never imports the server.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.settings import Settings, private_dir, private_files

if TYPE_CHECKING:
    from orchestrator.security.crypto import KeyRing


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    # Every command reads its settings first: whichever runs first creates private files.
    private_files()
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and keys live (RPA_DATA_DIR).")]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="e.g. postgresql+asyncpg://… (RPA_DATABASE_URL).")
]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Start the orchestrator (FastAPI on uvicorn). Zero configuration: SQLite in the data dir."""
    import uvicorn

    from orchestrator.app import create_app
    from orchestrator.gc_policy import GcPolicy
    from orchestrator.logging import configure

    settings = _settings(data_dir, database_url)
    configure()
    app = create_app(settings)
    GcPolicy(full_every_s=settings.gc_full_every_s, young_threshold=settings.gc_young_threshold).install()
    typer.echo(f"orchestrator on http://{host}:{port} (data: {settings.data_dir}, API docs at /docs)")
    try:  # agents' upgrades refused at the HTTP parser in a reconnect storm (api/agent_door_protocol.py)
        from orchestrator.api.agent_door_protocol import AgentDoorProtocol

        http: type[asyncio.Protocol] | str = AgentDoorProtocol
    except ImportError:  # no httptools: uvicorn's h11 protocol; the door in the app refuses instead
        http = "auto"
    # ws_ping_interval=None: the agent protocol has its own heartbeats, and the lease reaper decides
    # when a silent agent is gone (uvicorn's ping would close it on its own, later clock).
    # proxy_headers=False: uvicorn would believe X-Forwarded-For from any loopback peer; the app
    # believes it only through RPA_TRUSTED_PROXIES (api/client_address.py), the one setting.
    # server_header=False: no "server: uvicorn" to fingerprint.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        http=http,
        ws="websockets-sansio",
        ws_ping_interval=None,
        ws_per_message_deflate=settings.ws_compression,
        proxy_headers=False,
        forwarded_allow_ips=[],
        server_header=False,
    )


def _read_password() -> str:
    """A password from the terminal (twice) or from the first line of a piped standard input."""
    if sys.stdin.isatty():
        password: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        typer.echo("error: no password on standard input (its first line is the password)", err=True)
        raise typer.Exit(2)
    return line


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
    from orchestrator.db.migrate import upgrade_sync

    settings = _settings(data_dir, database_url)
    private_dir(settings.data_dir)
    upgrade_sync(settings.resolved_database_url)
    typer.echo("database is up to date")


admin_app = typer.Typer(help="Administration.", no_args_is_help=True)


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The owner's e-mail (login).")],
    org: Annotated[str, typer.Option(help="The organisation's name.")] = "Default",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an organisation and its first owner, who is an instance admin (may create organisations
    and accounts).

    The password is prompted for on a terminal, else read as the first line of standard input
    (`printf '%s\\n' "$PASSWORD" | rpa admin create …`): never an argument, which `ps` would show.
    """
    from orchestrator.db.migrate import upgrade_sync
    from orchestrator.db.session import Database
    from orchestrator.services.identity import IdentityError, create_org_with_owner
    from orchestrator.services.roles import ensure_builtin_roles

    settings = _settings(data_dir, database_url)
    password = _read_password()
    private_dir(settings.data_dir)
    upgrade_sync(settings.resolved_database_url)
    _configure_audit(settings)

    async def create() -> str:
        db = Database(settings.resolved_database_url)
        try:
            async with db.transaction() as session:
                await ensure_builtin_roles(session)
                org_row, _user = await create_org_with_owner(
                    session, org_name=org, email=email, password=password, instance_admin=True
                )
                return org_row.slug
        finally:
            await db.dispose()

    try:
        slug = asyncio.run(create())
    except IdentityError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created organisation '{org}' ({slug}) with owner {email}")


def _configure_audit(settings: Settings) -> None:
    """Load the master key (created, as the server would, on first use) and derive the audit
    keys from it: this command writes audit entries."""
    from orchestrator.security import audit_keys
    from orchestrator.services.vault_keys import keyring_for

    _signing, master = settings.ensure_secrets()
    audit_keys.configure(keyring_for(settings, master))


vault_app = typer.Typer(help="Credential vault: master key and data keys.", no_args_is_help=True)


def _vault_database(settings: Settings) -> str:
    from orchestrator.db.migrate import upgrade_sync

    private_dir(settings.data_dir)
    url = settings.resolved_database_url
    upgrade_sync(url)
    return url


def _keyring_or_exit(settings: Settings) -> KeyRing:
    from orchestrator.services.vault_keys import VaultUnavailable, keyring_for

    try:
        return keyring_for(settings)
    except VaultUnavailable as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


@vault_app.command("status")
def vault_status(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Which master keys are configured and how many data keys each one wraps (never a key)."""
    from orchestrator.db.session import Database
    from orchestrator.services.vault_keys import usage_by_master_key

    settings = _settings(data_dir, database_url)
    url = _vault_database(settings)
    ring = _keyring_or_exit(settings)

    async def usage() -> dict[str, int]:
        db = Database(url)
        try:
            async with db.transaction() as session:
                return await usage_by_master_key(session)
        finally:
            await db.dispose()

    counts = asyncio.run(usage())
    source = "RPA_MASTER_KEY" if settings.master_key else f"{settings.data_dir}/master.key"
    typer.echo(f"current master key: {ring.current.key_id} (from {source})")
    others = [key_id for key_id in ring.key_ids if key_id != ring.current.key_id]
    typer.echo(f"also unwraps with: {', '.join(others) if others else 'nothing else'}")
    for key_id, count in sorted(counts.items()):
        known = "current" if key_id == ring.current.key_id else ("known" if ring.knows(key_id) else "NOT CONFIGURED")
        typer.echo(f"data keys wrapped by {key_id}: {count} ({known})")
    if not counts:
        typer.echo("no data keys yet")


@vault_app.command("rotate-master-key")
def vault_rotate_master_key(  # noqa: C901
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            help="Re-wrap under the key in this file (base64 of 32 bytes); "
            "a missing file is created with a new key (mode 0600).",
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Re-wrap every organisation's data keys under a new master key, one transaction per
    organisation, while servers keep running.

    With the key in the data dir (no RPA_MASTER_KEY), a new key is made (or taken from
    --new-key-file) and installed as master.key, the old one kept as master.key.previous;
    running servers read those files and follow without a restart.

    With RPA_MASTER_KEY, roll first: give the servers the new key as RPA_MASTER_KEY and the
    old one as RPA_MASTER_KEY_PREVIOUS, then run this with the same environment (it re-wraps
    under RPA_MASTER_KEY), then drop RPA_MASTER_KEY_PREVIOUS. --new-key-file re-wraps under
    that file's key instead; servers that only know the old key then stop reading the vault
    until they are given the new one.
    """
    from orchestrator.db.session import Database
    from orchestrator.security.crypto import (
        MASTER_KEY_FILE,
        NEXT_KEY_FILE,
        PREVIOUS_KEY_FILE,
        CryptoError,
        MasterKey,
        read_key_file,
        replace_key_file,
        write_key_file,
    )
    from orchestrator.services.vault_keys import RewrapReport, rewrap_all, unreadable_data_keys

    settings = _settings(data_dir, database_url)
    url = _vault_database(settings)
    ring = _keyring_or_exit(settings)
    old_key = ring.current
    old_id = old_key.key_id
    from_env = settings.master_key is not None
    staged = settings.data_dir / NEXT_KEY_FILE
    try:
        staged_key = None if from_env else read_key_file(staged)  # left by an interrupted rotation
        if new_key_file is not None:
            new_key = read_key_file(new_key_file)
            if new_key is None:
                new_key = MasterKey.generate()
                write_key_file(new_key_file, new_key)
                typer.echo(f"wrote a new master key to {new_key_file} (mode 0600)")
        elif from_env:
            new_key = ring.current  # finishing a roll: RPA_MASTER_KEY is already the new key
        else:
            new_key = staged_key or MasterKey.generate()
        if staged_key is not None and staged_key.key_id != new_key.key_id:
            raise CryptoError(
                f"an interrupted rotation left {staged} (key {staged_key.key_id}); run without "
                "--new-key-file to finish it first"
            )
    except (CryptoError, PermissionError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    ring = ring.with_key(new_key)

    async def run() -> RewrapReport | list[tuple[uuid.UUID, int, str]]:
        db = Database(url)
        try:
            async with db.transaction() as session:
                unreadable = await unreadable_data_keys(session, ring)
            if unreadable:
                return unreadable
            if not from_env and staged_key is None:
                write_key_file(staged, new_key)  # before any data key depends on it
            return await rewrap_all(db, ring, new_key)
        finally:
            await db.dispose()

    outcome = asyncio.run(run())
    if isinstance(outcome, list):
        for org_id, version, key_id in outcome:
            typer.echo(
                f"error: org {org_id} data key v{version} is wrapped by master key {key_id}, "
                "which is not configured (set RPA_MASTER_KEY_PREVIOUS); nothing was changed",
                err=True,
            )
        raise typer.Exit(1)
    if not from_env:
        current = settings.data_dir / MASTER_KEY_FILE
        if new_key.key_id != old_id:
            # master.key exists at every instant: a server starting now must not create a new one.
            replace_key_file(settings.data_dir / PREVIOUS_KEY_FILE, old_key)
            os.replace(staged, current)
        else:
            staged.unlink(missing_ok=True)
    typer.echo(
        f"master key {old_id} -> {new_key.key_id}: re-wrapped {outcome.rewrapped} data keys "
        f"of {outcome.organisations} organisations"
    )
    if outcome.left:
        typer.echo(
            f"warning: data keys still under other master keys (written meanwhile): {outcome.left}; "
            "run the command again",
            err=True,
        )
    if from_env and new_key.key_id != old_id:
        typer.echo(
            f"next: set RPA_MASTER_KEY to the key in {new_key_file} and RPA_MASTER_KEY_PREVIOUS to the old "
            "key on every server, then remove RPA_MASTER_KEY_PREVIOUS once all run the new key"
        )
    elif not from_env and new_key.key_id != old_id:
        typer.echo(
            f"installed the new key as {settings.data_dir / MASTER_KEY_FILE}; "
            f"the old one is kept as {PREVIOUS_KEY_FILE}"
        )


@vault_app.command("rotate-data-keys")
def vault_rotate_data_keys(
    org: Annotated[list[str] | None, typer.Option(help="Organisation slug or id (repeatable); default: all.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give organisations a new data key version and re-encrypt their credentials under it."""
    from sqlalchemy import or_, select

    from orchestrator.db.session import Database
    from orchestrator.errors import ApiError
    from orchestrator.models import Organisation
    from orchestrator.services.vault import DataKeyRotation, VaultError, rotate_data_key

    settings = _settings(data_dir, database_url)
    url = _vault_database(settings)
    ring = _keyring_or_exit(settings)

    async def run() -> list[tuple[str, DataKeyRotation]]:
        db = Database(url)
        done = []
        try:
            async with db.transaction() as session:
                query = select(Organisation.id, Organisation.slug).where(Organisation.deleted_at.is_(None))
                if org:
                    ids = [value for value in org if _is_uuid(value)]
                    query = query.where(
                        or_(Organisation.slug.in_(org), Organisation.id.in_([uuid.UUID(value) for value in ids]))
                    )
                targets = (await session.execute(query.order_by(Organisation.slug))).all()
            missing = set(org or []) - {slug for _, slug in targets} - {str(org_id) for org_id, _ in targets}
            if missing:
                raise VaultError(f"no organisation {', '.join(sorted(missing))}")
            for org_id, slug in targets:
                async with db.transaction() as session:
                    done.append((slug, await rotate_data_key(session, org_id, ring)))
            return done
        finally:
            await db.dispose()

    try:
        rotations = asyncio.run(run())
    except ApiError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for slug, rotation in rotations:
        typer.echo(
            f"{slug}: data key v{rotation.old_version} -> v{rotation.new_version}, "
            f"{rotation.reencrypted} credentials re-encrypted, dropped versions {rotation.dropped_versions}"
        )
    if not rotations:
        typer.echo("no organisations")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


artifacts_app = typer.Typer(help="Artifact store maintenance.", no_args_is_help=True)
"""`rpa artifacts …`."""


@artifacts_app.callback()
def _artifacts() -> None:
    """Artifact store maintenance (a group even with one command: `rpa artifacts migrate`)."""


@artifacts_app.command("migrate")
def artifacts_migrate(
    to: Annotated[str, typer.Option("--to", help="The new store: a folder, file://…, s3://bucket/prefix, …")],
    to_options: Annotated[
        str, typer.Option("--to-options", help="JSON options of the new store (like RPA_ARTIFACT_STORE_OPTIONS).")
    ] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Copy every artifact file from the current store (RPA_ARTIFACT_STORE) to another, verified.

    Each file is streamed, checked against its row's size and SHA-256, and kept under the same
    key; files already there whole are skipped, so an interrupted run resumes when started
    again. The current store is not changed. When nothing failed, set RPA_ARTIFACT_STORE (and
    RPA_ARTIFACT_STORE_OPTIONS) to the new store on every server and restart them; then run this
    once more with the old store as current to catch artifacts uploaded in between.
    """
    import json

    from orchestrator.db.session import Database
    from orchestrator.services.artifact_migration import MigrationReport, migrate_artifacts
    from orchestrator.services.artifact_store import open_store, redact
    from orchestrator.services.artifacts import artifact_root, artifact_store

    settings = _settings(data_dir, database_url)
    url = _vault_database(settings)
    try:
        options = json.loads(to_options) if to_options else None
        source = artifact_store(settings)
        target = open_store(to, artifact_root(settings), options)
    except (ValueError, RuntimeError) as exc:  # bad JSON, a store whose package is missing
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if source.url == target.url:
        typer.echo(f"error: {redact(to)} is the current store already", err=True)
        raise typer.Exit(2)
    typer.echo(f"copying artifacts from {source.url} to {target.url}")

    def progress(report: MigrationReport) -> None:
        typer.echo(f"  {report.copied} copied, {report.present} already there, {len(report.failed)} failed")

    async def run() -> MigrationReport:
        db = Database(url)
        try:
            return await migrate_artifacts(db.sessions, source, target, progress=progress)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    for artifact_id, reason in report.failed.items():
        typer.echo(f"failed: artifact {artifact_id}: {reason}", err=True)
    typer.echo(
        f"done: {report.copied} copied ({report.bytes_copied} bytes), {report.present} already there, "
        f"{len(report.failed)} failed"
    )
    if report.failed:
        raise typer.Exit(1)
    typer.echo(f"every file is in the new store: set RPA_ARTIFACT_STORE={target.url} and restart the servers")
