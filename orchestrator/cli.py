"""`rpa orchestrator`, `rpa db …`, `rpa admin …`: the server's command-line side.

Registered under the `rpa.cli` entry-point group, so the core CLI never imports the server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.settings import Settings


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
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

    settings = _settings(data_dir, database_url)
    typer.echo(f"orchestrator on http://{host}:{port} (data: {settings.data_dir}, API docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", ws="websockets-sansio")


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
    from orchestrator.db.migrate import upgrade_sync

    settings = _settings(data_dir, database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.resolved_database_url)
    typer.echo("database is up to date")


admin_app = typer.Typer(help="Administration.", no_args_is_help=True)


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The owner's e-mail (login).")],
    org: Annotated[str, typer.Option(help="The organisation's name.")] = "Default",
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an organisation and its first owner."""
    from orchestrator.db.migrate import upgrade_sync
    from orchestrator.db.session import Database
    from orchestrator.services.identity import IdentityError, create_org_with_owner
    from orchestrator.services.roles import ensure_builtin_roles

    settings = _settings(data_dir, database_url)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.resolved_database_url)

    async def create() -> str:
        db = Database(settings.resolved_database_url)
        try:
            async with db.transaction() as session:
                await ensure_builtin_roles(session)
                org_row, _user = await create_org_with_owner(session, org_name=org, email=email, password=password)
                return org_row.slug
        finally:
            await db.dispose()

    try:
        slug = asyncio.run(create())
    except IdentityError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created organisation '{org}' ({slug}) with owner {email}")
