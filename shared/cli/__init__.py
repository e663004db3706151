"""The `rpa` command line."""

from shared.cli._app import app, main

__all__ = ["app", "main"]
