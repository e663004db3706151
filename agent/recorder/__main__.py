"""`python -m agent.recorder browser URL`: see `agent/recorder/README.md`."""

from agent.recorder._cli import main

main()
