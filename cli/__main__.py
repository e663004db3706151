"""`python -m cli` is the `rpa` command."""

from cli import main

main()
