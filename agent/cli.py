"""`rpa agent …`: enrol this machine with an orchestrator and check what it can run.

Registered as the `agent` group through the `rpa.cli` entry-point group, so the core CLI never
imports the agent. `rpa agent` with no subcommand is the agent's default action (`main` below).
"""

from __future__ import annotations

import os
import re
import socket
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.keystore import AgentIdentity, KeystoreError, agent_home
from shared.protocol import LABEL_PATTERN

app = typer.Typer(
    name="agent",
    help="The robot on this machine: enrol it, check it, run it.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_ERROR = 2
ENROLL_PATH = "/api/v1/agents/enroll"
ENROLL_TIMEOUT_S = 30.0


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="The orchestrator's URL; default: the one enrolled with.")] = None,
    name: Annotated[str | None, typer.Option(help="Name shown in the orchestrator; default: the enrolled one.")] = None,
    labels: Annotated[str, typer.Option(help="Extra comma-separated labels, e.g. finance,windows.")] = "",
    max_jobs: Annotated[int, typer.Option("--max-jobs", min=1, max=1000, help="Executions run at once.")] = 1,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Read the agent key from this file (mode 0600) instead of the OS keyring."),
    ] = None,
    env: Annotated[
        str,
        typer.Option(
            "--env",
            envvar="RPA_AGENT_ENV",
            help="Comma-separated environment variables flows may read as env.*; none by default.",
        ),
    ] = "",
) -> None:
    """The robot on this machine. Without a subcommand: run headless (connect to the orchestrator
    it is enrolled with, run the executions it is given, reconnect when the connection drops)."""
    # Whatever any command creates (home, outbox and its WAL, key file, downloads) is private.
    os.umask(0o077)
    if ctx.invoked_subcommand is not None:
        return
    import asyncio
    import logging

    from agent.capabilities import detect_capabilities
    from agent.environment import apply_process_env, parse_allowlist
    from agent.keystore import load_identity
    from agent.runtime import AgentConfig, AgentGcPolicy, AgentRuntime

    apply_process_env()
    try:
        identity, key = load_identity(key_file=key_file)
    except KeystoreError as exc:
        raise _fail(str(exc)) from None
    extra = [label.strip() for label in labels.split(",") if label.strip()]
    invalid = [label for label in extra if not re.fullmatch(LABEL_PATTERN, label)]
    if invalid:  # the orchestrator would refuse the hello that carries it, on every connection
        raise _fail(f"--labels: {invalid[0]!r} is not a label (1 to 50 letters, digits and _ . : = / + @ -)")
    try:
        env_allowlist = parse_allowlist(env)
    except ValueError as exc:
        raise _fail(f"--env: {exc}") from None
    config = AgentConfig(
        url=url or identity.url,
        key=key,
        name=name or identity.name,
        home=agent_home(),
        labels=sorted(set(identity.labels) | set(extra)),
        capabilities=detect_capabilities(),
        max_jobs=max_jobs,
        version=agent_version(),
        env_allowlist=env_allowlist,
        backoff_max_s=float(os.environ.get("RPA_AGENT_RECONNECT_MAX_S", "5")),
        reconnect_spread_s=float(os.environ.get("RPA_AGENT_RECONNECT_SPREAD_S", "3")),
        key_source=lambda: load_identity(key_file=key_file)[1],
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    typer.echo(f"agent {config.name} ({', '.join(config.capabilities)}) → {config.url}, {max_jobs} job(s) at once")
    try:
        with AgentGcPolicy().applied():  # one process, one policy (agent/runtime/_gc.py)
            asyncio.run(AgentRuntime(config).run())
    except KeyboardInterrupt:
        typer.echo("agent stopped")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_ERROR)


def agent_version() -> str:
    """The installed suite's version, sent at enrolment and in the hello."""
    try:
        return version("rpa-suite")
    except PackageNotFoundError:
        return "0.0.0"


@app.command()
def enroll(
    url: Annotated[str, typer.Argument(help="The orchestrator's base URL, e.g. https://rpa.example.com")],
    token: Annotated[str, typer.Argument(help="An enrolment token from the orchestrator (Agents page).")],
    name: Annotated[str | None, typer.Option(help="The agent's name; default: this machine's hostname.")] = None,
    labels: Annotated[str, typer.Option(help="Comma-separated labels, e.g. finance,windows.")] = "",
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Keep the agent key in this file (mode 0600) instead of the OS keyring."),
    ] = None,
) -> None:
    """Enrol this machine with an orchestrator and store the agent's identity and key."""
    from agent.keystore import check_key_storage, save_identity

    try:
        import httpx
    except ImportError:
        raise _fail("httpx is not installed; install the agent extra: pip install 'rpa-suite[agent]'") from None

    base = url.rstrip("/")
    hostname = socket.gethostname()
    label_list = [label.strip() for label in labels.split(",") if label.strip()]
    try:
        check_key_storage(key_file)  # before the token is spent
    except KeystoreError as exc:
        raise _fail(str(exc)) from None
    body = {
        "token": token,
        "name": name or hostname,
        "hostname": hostname,
        "labels": label_list,
        "version": agent_version(),
    }
    try:
        response = httpx.post(base + ENROLL_PATH, json=body, timeout=ENROLL_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise _fail(
            f"cannot reach the orchestrator at {base} ({type(exc).__name__}); check the URL "
            "and that the server is running"
        ) from None
    if response.status_code != 201:
        raise _fail(_error_message(response, base))
    reply = _json(response)
    try:
        if not isinstance(reply, dict):
            raise TypeError("not an object")
        identity = AgentIdentity(
            url=base,
            agent_id=str(reply["agent_id"]),
            org_id=str(reply["org_id"]),
            name=str(reply.get("name") or body["name"]),
            labels=list(reply.get("labels", label_list)),
        )
        key = str(reply["agent_key"])
    except (KeyError, TypeError, ValueError):
        raise _fail(f"unexpected enrolment answer from {base} (HTTP {response.status_code})") from None
    try:
        save_identity(identity, key, key_file=key_file)
    except KeystoreError as exc:
        raise _fail(
            f"enrolled as agent {identity.agent_id} but could not store its key: {exc}; revoke that "
            "agent in the orchestrator and enroll again"
        ) from None
    where = "the OS keyring" if key_file is None else str(key_file.expanduser().absolute())
    typer.echo(
        f"Enrolled as {identity.name} (agent id {identity.agent_id}) in organisation "
        f"{identity.org_id}; key stored in {where}"
    )


@app.command("set-key")
def set_key(
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Keep the key in this file (mode 0600); default: where the current key is."),
    ] = None,
) -> None:
    """Install a new key of this agent (from `POST /api/v1/agents/{id}/rotate-key`). The key is read
    from standard input, never from the command line; a running agent uses it on its next connection."""
    from agent.keystore import replace_key

    key = typer.prompt("New agent key", hide_input=True) if sys.stdin.isatty() else sys.stdin.readline()
    try:
        where = replace_key(key, key_file=key_file)
    except KeystoreError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"New agent key stored in {where}; the agent connects with it from now on")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_message(response: Any, base: str) -> str:
    reply = _json(response)
    error = reply.get("error") if isinstance(reply, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return f"the orchestrator at {base} answered HTTP {response.status_code}"


@app.command()
def doctor() -> None:
    """Show what this machine can run, and whether an identity is stored."""
    from rich.console import Console
    from rich.table import Table

    from agent.capabilities import check_capabilities
    from agent.keystore import describe_key_store, load_identity, read_identity

    console = Console(soft_wrap=True)
    table = Table(title="capabilities")
    for column in ("capability", "available", "why"):
        table.add_column(column)
    for check in check_capabilities():
        table.add_row(check.name, "[green]yes[/]" if check.available else "[red]no[/]", check.reason)
    console.print(table)
    home = agent_home()
    from agent.outbox import describe_outbox

    writable, outbox_state = describe_outbox(home / "outbox.db")
    console.print(f"outbox: {outbox_state}" if writable else f"[red]problem:[/] outbox {outbox_state}", highlight=False)
    try:
        identity = read_identity(home)
        if identity is None:
            console.print(f"identity: none in {home} (run `rpa agent enroll URL TOKEN`)", highlight=False)
            return
        console.print(
            f"identity: {identity.name} (agent id {identity.agent_id}, organisation "
            f"{identity.org_id}) for {identity.url}",
            highlight=False,
        )
        load_identity(home=home)
        console.print(f"key: stored in {describe_key_store(home)}", highlight=False)
    except KeystoreError as exc:
        console.print(f"[red]problem:[/] {exc}", highlight=False)
