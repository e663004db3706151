"""`vault.get` and `keyring.*`: credentials on the agent.

_keyring  the OS keyring backend, refused when missing (or plaintext, for writing), and
          `map_keyring_errors()`, the one boundary for keyring's exceptions
_steps    the steps; each masks every value it hands out (`context().add_secret`)
"""

from agent.steps.credentials._keyring import map_keyring_errors
from agent.steps.credentials._steps import CREDENTIAL_STEPS, keyring_get, keyring_set, vault_get

__all__ = ["CREDENTIAL_STEPS", "keyring_get", "keyring_set", "map_keyring_errors", "vault_get"]
