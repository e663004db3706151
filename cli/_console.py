"""The consoles every command writes to, and the one way a command fails."""

from __future__ import annotations

import typer
from rich.console import Console

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_INVALID = 2


def fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    """Print `error: message` on standard error; return the `typer.Exit` the caller raises."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)
