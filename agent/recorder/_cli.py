"""`rpa record browser URL` and `python -m agent.recorder browser URL`: start a recording.

Registered as the `record` group through the `rpa.cli` entry-point group. Events go to stdout as
JSON lines (the studio reads them), diagnostics to stderr; commands are read from stdin.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from agent.recorder._nodes import credential_name_for

app = typer.Typer(
    name="record",
    help="Record browser actions as flow nodes; pick elements (JSON lines on stdout, commands on stdin).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """Recorders: `browser`."""


@app.command()
def browser(
    url: Annotated[str, typer.Argument(help="The page to start at, e.g. https://erp.example/login.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the recording as a runnable flow (JSON) here.")
    ] = None,
    name: Annotated[str, typer.Option(help="The flow's name in --output.")] = "Recorded flow",
    credential: Annotated[
        str | None,
        typer.Option(help="Credential that typed passwords refer to (NAME.password); default: from the URL's host."),
    ] = None,
    screenshots: Annotated[
        bool, typer.Option("--screenshots", help="Save a screenshot of each target next to --output.")
    ] = False,
    healed: Annotated[
        list[Path] | None,
        typer.Option("--healed", help="A run's journal: its healed selectors are offered as fixes (repeatable)."),
    ] = None,
    headless: Annotated[bool, typer.Option("--headless", help="No window (picking and tests only).")] = False,
    profile: Annotated[
        Path | None, typer.Option(help="A browser profile folder to record in (kept); default: a fresh one.")
    ] = None,
    cdp_port: Annotated[
        int | None,
        typer.Option(help="Let another client drive this browser over CDP on 127.0.0.1 (0: any free port)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Diagnostics on stderr.")] = False,
) -> None:
    """Open a browser at URL and record what is done in it as `browser.*` flow nodes."""
    from agent.recorder._session import RecorderOptions, RecorderSession

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    options = RecorderOptions(
        url=url,
        output=output,
        name=name,
        credential=credential or credential_name_for(url),
        headless=headless,
        screenshots=screenshots,
        healed=list(healed or []),
        cdp_port=cdp_port,
        profile=profile,
    )
    code = asyncio.run(RecorderSession(options).run())
    raise typer.Exit(code)


def main() -> None:
    """Entry point of `python -m agent.recorder`."""
    app(prog_name="python -m agent.recorder")
