"""Browser steps (`browser.*`), driven with Playwright's async API.

Playwright is imported inside the functions that use it, so the agent starts without it.
"""

from agent.steps.browser._captcha import SolveCaptchaParams, solve_captcha
from agent.steps.browser._describe import describe_element
from agent.steps.browser._fingerprint import ElementBox, Fingerprint
from agent.steps.browser._targets import Anchor, Located, Target, TargetSpec, locate

CAPTCHA_STEPS = (solve_captcha,)
"""The CAPTCHA step, part of the browser family."""

__all__ = [
    "CAPTCHA_STEPS",
    "Anchor",
    "ElementBox",
    "Fingerprint",
    "Located",
    "SolveCaptchaParams",
    "Target",
    "TargetSpec",
    "describe_element",
    "locate",
    "solve_captcha",
]
