"""The `rpa` command: the composition root of the suite.

The local commands (`cli._local_commands`) work on flow files with the shared core alone; the
client commands (`cli._remote_commands`) talk to an orchestrator through `shared.client`; `up`
and `demo` (`cli._cluster_commands`) supervise an orchestrator and agents as child processes.
The server, agent, studio and tray add their command groups through the `rpa.cli` entry-point
group, loaded by name, so this package never imports them.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import typer

from cli._cluster_commands import demo
from cli._local_commands import run, schema, steps, validate

app = typer.Typer(
    name="rpa",
    help="RPA suite: validate, run and manage flows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _command in (schema, validate, steps, run, demo):
    app.command()(_command)


def _add_client_commands() -> None:
    # Registered by `main` only: the in-process tests of the local commands do not need them.
    from cli._cluster_commands import up
    from cli._remote_commands import exec_app, login
    from cli._trigger_commands import trigger_app
    from cli._workflow_commands import workflow_app

    app.command("login")(login)
    app.command("up")(up)
    app.add_typer(exec_app, name="exec")
    app.add_typer(workflow_app, name="workflow")
    app.add_typer(trigger_app, name="trigger")


def _add_plugins() -> None:
    for ep in entry_points(group="rpa.cli"):
        try:
            sub = ep.load()
        except ImportError as exc:  # an optional part (e.g. the server extra) is not installed
            logging.getLogger(__name__).debug("command group %s unavailable: %s", ep.name, exc)
            continue
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=ep.name)
        else:
            app.command(ep.name)(sub)


def main() -> None:
    """Entry point of the `rpa` console script."""
    _add_client_commands()
    _add_plugins()
    app()
