"""The e-mail family as the agent sees it: registered by its entry point, light to import, and
a clear error naming the extra when IMAPClient is missing."""

from __future__ import annotations

import subprocess
import sys

from shared.steps import StepRegistry

SCRIPT = """
import sys
import agent.steps.email
assert "imapclient" not in sys.modules, "imapclient imported at start-up"
sys.modules["imapclient"] = None  # as if the email extra were not installed
from agent.steps.email._errors import require_imapclient
from shared.errors import MissingDependency
try:
    require_imapclient()
except MissingDependency as exc:
    print(exc.kind, exc.retryable, exc.message)
"""


def test_the_entry_point_registers_every_email_step() -> None:
    names = {d.name for d in StepRegistry.default() if d.name.startswith("email.")}
    assert names == {"email.send", "email.search", "email.save_attachments", "email.mark", "email.move", "email.delete"}


def test_importing_the_family_does_not_import_imapclient_and_a_missing_one_names_the_extra() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    kind, retryable, message = done.stdout.strip().split(" ", 2)
    assert (kind, retryable) == ("dependency", "False")
    assert "IMAPClient" in message
    assert "email" in message
