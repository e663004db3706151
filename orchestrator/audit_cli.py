"""`rpa audit …`: verify the audit chains and their signed checkpoints, write checkpoints now,
and show the key that signs them.

`rpa audit verify --offline --checkpoints DIR --public-key KEY` needs neither the database nor
the master key: it checks an exported copy of the checkpoints on any machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli import DatabaseUrl, DataDir, _settings

if TYPE_CHECKING:
    from orchestrator.security.audit_keys import AuditKeys
    from orchestrator.services.audit import Verification
    from orchestrator.settings import Settings

audit_app = typer.Typer(help="Audit log: verify chains and signed checkpoints.", no_args_is_help=True)

Checkpoints = Annotated[
    Path | None,
    typer.Option("--checkpoints", help="A directory of checkpoint files (default: <data dir>/audit-checkpoints)."),
]
PublicKey = Annotated[
    str | None,
    typer.Option(
        "--public-key", help="The signing key to require (from `rpa audit public-key`); strongly advised offline."
    ),
]


def _keys(settings: Settings) -> AuditKeys:
    from orchestrator.security import audit_keys
    from orchestrator.services.vault_keys import VaultUnavailable, keyring_for

    try:
        return audit_keys.configure(keyring_for(settings))
    except VaultUnavailable as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _chains_in(directory: Path) -> set[str]:
    return {path.stem for path in directory.glob("*.jsonl")} if directory.is_dir() else set()


async def _verify_database(
    settings: Settings, directory: Path, keys: AuditKeys, pinned: str | None
) -> list[Verification]:
    from sqlalchemy import select

    from orchestrator.db.session import Database
    from orchestrator.models.audit import AuditHead
    from orchestrator.models.identity import Organisation
    from orchestrator.services.audit import SYSTEM_CHAIN, verify_chain
    from orchestrator.services.audit_checkpoints import latest

    trusted = {pinned} if pinned else keys.public_keys
    db = Database(settings.resolved_database_url)
    try:
        async with db.transaction() as session:
            heads = set((await session.scalars(select(AuditHead.chain))).all())
            orgs = {str(org_id) for org_id in (await session.scalars(select(Organisation.id))).all()}
        files = _chains_in(directory)
        results = []
        for chain in sorted(heads | orgs | files):
            last = latest(directory, chain, trusted) if chain in files else None
            async with db.transaction() as session:
                results.append(
                    await verify_chain(
                        session,
                        chain,
                        anchor=last.anchor if last else None,
                        expect_entries=chain in orgs and chain != SYSTEM_CHAIN,
                        keys=keys,
                    )
                )
        return results
    finally:
        await db.dispose()


@audit_app.command("verify")
def verify(
    checkpoints: Checkpoints = None,
    public_key: PublicKey = None,
    offline: Annotated[bool, typer.Option(help="Check only the checkpoint files (no database, no key).")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Verify the checkpoint files, then (unless --offline) every chain of the database against
    its seals and its last checkpoint. Exit status 1 when anything is wrong."""
    from orchestrator.services.audit_checkpoints import checkpoint_dir, verify_files

    settings = None if offline and checkpoints is not None else _settings(data_dir, database_url)
    directory = checkpoints or checkpoint_dir(settings.data_dir)  # type: ignore[union-attr]
    failed = False
    if directory.is_dir():
        report = verify_files(directory, public_key)
        for text in report.problems:
            typer.echo(f"checkpoint {text}")
        typer.echo(
            f"checkpoints: {report.checkpoints} in {len(report.chains)} chains"
            + ("" if report.problems else ", all signed")
        )
        failed = bool(report.problems)
    else:
        typer.echo(f"checkpoints: none in {directory}")
        failed = offline
    if not offline:
        assert settings is not None
        keys = _keys(settings)
        for result in asyncio.run(_verify_database(settings, directory, keys, public_key)):
            more = " (+more)" if result.truncated else ""
            status = "ok" if result.ok else f"{len(result.problems)} problems{more}"
            anchor = f", checkpoint {result.checkpoint_seq}" if result.checkpoint_seq is not None else ""
            typer.echo(f"chain {result.chain}: {status}; {result.checked} entries to {result.head_seq}{anchor}")
            for found in result.problems[:20]:
                typer.echo(f"  seq {found.seq}: {found.problem}" + (f" ({found.id})" if found.id else ""))
            failed = failed or not result.ok
    raise typer.Exit(1 if failed else 0)


@audit_app.command("checkpoint")
def checkpoint(
    to: Annotated[Path | None, typer.Option(help="Write here instead of the data dir.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write a signed checkpoint of every chain whose head moved since its last one (the server
    does this every RPA_AUDIT_CHECKPOINT_S seconds)."""
    from orchestrator.db.session import Database
    from orchestrator.services.audit_checkpoints import checkpoint_dir, write_checkpoints

    settings = _settings(data_dir, database_url)
    keys = _keys(settings)

    async def run() -> int:
        db = Database(settings.resolved_database_url)
        try:
            return len(await write_checkpoints(db, to or checkpoint_dir(settings.data_dir), keys.current))
        finally:
            await db.dispose()

    typer.echo(f"wrote {asyncio.run(run())} checkpoints")


@audit_app.command("public-key")
def public_key(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """The key that signs checkpoints (base64 Ed25519; public): keep it where verifiers can pin it."""
    typer.echo(_keys(_settings(data_dir, database_url)).current.public_key)
