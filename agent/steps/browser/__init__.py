"""Browser steps (`browser.*`), driven with Playwright's async API.

Playwright is imported inside the functions that use it, so the agent starts without it.
Modules: `_session` (sessions, tabs, checkpoints for resume), `_actions` (navigation and element
actions), `_waits` (waiting, JavaScript, dialogs, downloads), `_extract` (reading the page),
`_storage` (cookies and storage state), `_errors` (the Playwright error boundary); targets:
`_targets` (`Target`, `TargetSpec`, `locate`: fallbacks, anchors, strict mode), `_describe`
(recorded descriptors), `_healing` + `_similo` (self-healing), `_captcha` (`solve_captcha`).
"""

from agent.steps.browser._actions import (
    back,
    check,
    click,
    drag_and_drop,
    fill,
    focus,
    forward,
    goto,
    hover,
    press,
    reload,
    scroll_into_view,
    select_option,
    type_text,
    uncheck,
    upload,
)
from agent.steps.browser._captcha import SolveCaptchaParams, solve_captcha
from agent.steps.browser._describe import DescribeParams, describe_element, describe_element_step
from agent.steps.browser._errors import map_playwright_errors
from agent.steps.browser._extract import (
    extract_items,
    get_all,
    get_attribute,
    get_html,
    get_links,
    get_table,
    get_text,
    get_value,
    pdf,
    screenshot,
)
from agent.steps.browser._fingerprint import ElementBox, Fingerprint
from agent.steps.browser._healing import HealingParams, set_healing
from agent.steps.browser._session import BrowserSession, OpenParams
from agent.steps.browser._session_steps import close, close_tab, new_tab, open_, switch_tab
from agent.steps.browser._storage import clear_storage, get_cookies, restore_storage, save_storage
from agent.steps.browser._targets import Anchor, Located, Target, TargetSpec, locate
from agent.steps.browser._waits import download, evaluate, handle_dialog, wait

BROWSER_STEPS = (
    open_,
    close,
    new_tab,
    switch_tab,
    close_tab,
    goto,
    back,
    forward,
    reload,
    click,
    fill,
    type_text,
    press,
    select_option,
    check,
    uncheck,
    hover,
    focus,
    scroll_into_view,
    upload,
    drag_and_drop,
    wait,
    evaluate,
    handle_dialog,
    download,
    get_text,
    get_html,
    get_attribute,
    get_value,
    get_all,
    get_table,
    get_links,
    extract_items,
    screenshot,
    pdf,
    save_storage,
    restore_storage,
    clear_storage,
    get_cookies,
    solve_captcha,
    set_healing,
    describe_element_step,
)
"""Every browser step, registered through the `rpa.steps` entry point `browser`."""

__all__ = [
    "BROWSER_STEPS",
    "Anchor",
    "BrowserSession",
    "DescribeParams",
    "ElementBox",
    "Fingerprint",
    "HealingParams",
    "Located",
    "OpenParams",
    "SolveCaptchaParams",
    "Target",
    "TargetSpec",
    "describe_element",
    "describe_element_step",
    "locate",
    "map_playwright_errors",
    "set_healing",
    "solve_captcha",
]
