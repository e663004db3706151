"""Entry script of the bundled `rpa` program."""

from cli import main

if __name__ == "__main__":
    main()
