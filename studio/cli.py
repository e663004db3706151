"""`rpa studio [FILE]`: the designer, loaded by the `rpa` command through the `rpa.cli` entry point."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer


def studio(
    file: Annotated[Path | None, typer.Argument(help="A flow to open (.json; .yaml is imported).")] = None,
    theme: Annotated[str | None, typer.Option(help="system, light or dark (default: the saved choice).")] = None,
    config: Annotated[Path | None, typer.Option(help="Settings folder (default: the studio's config folder).")] = None,
    quit_after: Annotated[float | None, typer.Option(hidden=True, help="Close after N seconds (tests).")] = None,
) -> None:
    """Open the studio, the visual designer of flows."""
    if importlib.util.find_spec("PySide6") is None or importlib.util.find_spec("qasync") is None:
        typer.echo("The studio needs the studio extra: pip install 'rpa-suite[studio]'", err=True)
        raise typer.Exit(2)
    if file is not None and not file.is_file():
        typer.echo(f"no such flow file: {file}", err=True)
        raise typer.Exit(2)
    from studio.app import run_studio

    raise typer.Exit(run_studio(file, config=config, theme=theme, quit_after=quit_after))


def main() -> None:
    """`python -m studio [FILE]`."""
    typer.run(studio)
