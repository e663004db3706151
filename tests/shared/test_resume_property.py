"""Property: wherever an execution crashes (once or twice), resuming it gives the same result as
an uninterrupted run, and no finished node instance runs again."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.shared.flowgen import Limits, Scenario, crash_and_resume, reference_run, scenarios

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(scenario=scenarios(Limits(parallel=False)), data=st.data())
def test_resume_after_any_crash_matches_an_uninterrupted_run(scenario: Scenario, data: st.DataObject) -> None:
    async def check() -> None:
        reference = await reference_run(scenario)
        total = len(reference[1])
        crashes = data.draw(st.integers(1, 2), label="crashes")

        def plan(stored: int) -> tuple[int, bool] | None:
            nonlocal crashes
            if crashes == 0 or stored >= total - 1:
                return None
            crashes -= 1
            at = data.draw(st.integers(stored + 1, total - 1), label="crash at event")
            return at, data.draw(st.booleans(), label="stored before the crash")

        await crash_and_resume(scenario, plan, reference)

    asyncio.run(check())
