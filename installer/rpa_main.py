"""Entry script of the bundled `rpa` program."""

from shared.cli import main

if __name__ == "__main__":
    main()
