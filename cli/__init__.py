"""The `rpa` command line: `main` is the console script, `app` the Typer application.

`cli.supervise` is the public module that starts an orchestrator and agents on this machine.
"""

from cli._app import app, main

__all__ = ["app", "main"]
