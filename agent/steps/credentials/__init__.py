"""`vault.get` and `keyring.*`: credentials on the agent.

_keyring  the OS keyring backend, refused when missing (or plaintext, for writing), and
          `map_keyring_errors()`, the one boundary for keyring's exceptions
_steps    the steps, and `protect()`, which masks every value they hand out
"""

from agent.steps.credentials._keyring import map_keyring_errors
from agent.steps.credentials._steps import CREDENTIAL_STEPS, keyring_get, keyring_set, protect, vault_get

__all__ = ["CREDENTIAL_STEPS", "keyring_get", "keyring_set", "map_keyring_errors", "protect", "vault_get"]
