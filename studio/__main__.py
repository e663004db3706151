"""`python -m studio [FILE]` opens the studio."""

from studio.cli import main

main()
