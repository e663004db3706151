"""Fixtures of the browser step tests.

- `browser_site`: the test site (`site.py`) on a free 127.0.0.1 port, one per test session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agent.steps.browser.site import SiteServer


@pytest.fixture(scope="session")
def browser_site() -> Iterator[SiteServer]:
    with SiteServer() as site:
        yield site
