"""Browser steps (`browser.*`), driven with Playwright's async API.

Playwright is imported inside the functions that use it, so the agent starts without it.
"""

from agent.steps.browser._describe import describe_element
from agent.steps.browser._fingerprint import ElementBox, Fingerprint
from agent.steps.browser._targets import Anchor, Located, Target, TargetSpec, locate

__all__ = ["Anchor", "ElementBox", "Fingerprint", "Located", "Target", "TargetSpec", "describe_element", "locate"]
