"""Browser steps (`browser.*`), driven with Playwright's async API.

Playwright is imported inside the functions that use it, so the agent starts without it.
"""

from agent.steps.browser._captcha import SolveCaptchaParams, solve_captcha
from agent.steps.browser._describe import describe_element
from agent.steps.browser._fingerprint import ElementBox, Fingerprint
from agent.steps.browser._healing import HealingParams, set_healing
from agent.steps.browser._targets import Anchor, Located, Target, TargetSpec, locate

TARGET_STEPS = (solve_captcha, set_healing)
"""The steps of the targets part of the browser family (CAPTCHA, healing switch)."""

__all__ = [
    "TARGET_STEPS",
    "Anchor",
    "ElementBox",
    "Fingerprint",
    "HealingParams",
    "Located",
    "SolveCaptchaParams",
    "Target",
    "TargetSpec",
    "describe_element",
    "locate",
    "set_healing",
    "solve_captcha",
]
