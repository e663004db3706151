"""`python -m shared.cli` is the `rpa` command."""

from shared.cli import main

main()
