"""Property: wherever an execution crashes (once or twice, before or after the crashing batch is
stored), resuming it in a fresh engine gives the same status and outputs as an uninterrupted run,
no finished node instance runs again, and the journal stays gapless with one success per node
instance (see `flowgen.crash_and_resume` for every check).

The flows (`flowgen.scenarios`) mix sequences and parallel branches of counting steps, `if` and
`switch` on an input, sequential and concurrent `foreach` with nested bodies, `while` on a counter
variable, `try`/`catch`/`finally` around a failing step, steps that fail once and are retried,
retries that run out, `data.set_variable` and node `set`, `flow.call` of a generated sub-flow,
and sometimes a final unhandled failure. A variable has one writer, and writes happen only where
no concurrent loop encloses them, so the outcome does not depend on scheduling.

Constrained while a bug is open: no `control.try` inside a loop body (see
`test_a_try_in_a_loop_body_keeps_its_body_results_when_the_iteration_is_resumed`).
"""

from __future__ import annotations

import asyncio
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.engine import Engine
from shared.flow import load_flow
from tests.shared.flowgen import (
    EXECUTION_ID,
    Limits,
    Recorder,
    Scenario,
    count,
    crash_and_resume,
    crash_list,
    flow_doc,
    make_registry,
    reference_run,
    scenarios,
)

GENERATOR = Limits()

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("RPA_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    derandomize=os.environ.get("RPA_PROPERTY_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(scenario=scenarios(GENERATOR), data=st.data())
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
            return at, data.draw(st.booleans(), label="batch stored before the crash")

        await crash_and_resume(scenario, plan, reference)

    asyncio.run(check())


# -- shrunk cases of bugs the property found ----------------------------------------------------


async def test_a_try_in_a_loop_body_keeps_its_body_results_when_the_iteration_is_resumed() -> None:
    body = {
        "nodes": [{"id": "t", "type": "control.try", "body": {"nodes": [count("s1", "{{ index }}")]}}, count("s2")],
        "edges": [{"from": "t", "to": "s2"}],
    }
    scenario = Scenario(
        flow_doc(
            [{"id": "loop", "type": "control.foreach", "params": {"items": 1}, "body": body}],
            outputs={"loop": "{{ steps.loop.output }}"},
        )
    )
    reference = await reference_run(scenario)
    assert reference[0].outputs["loop"][0]["s1"] == 0
    s2_started = next(e.seq for e in reference[1] if e.type == "node.started" and e.path == "loop[0]/s2")

    await crash_and_resume(scenario, crash_list([(s2_started, False)]), reference)


async def test_a_failing_branch_does_not_hang_the_scheduler() -> None:
    # b fails in the same loop turn as a succeeds; a's successor c is created as a task and
    # cancelled before it ever runs, while `slow` keeps the scheduler from taking its fast path.
    registry = make_registry(Recorder())
    flow = load_flow(
        flow_doc(
            [
                count("a"),
                count("b", fail=True),
                {"id": "slow", "type": "core.wait", "params": {"seconds": 0.05}},
                count("c"),
            ],
            [("a", "c")],
        ),
        registry=registry,
    )

    async with asyncio.timeout(1):
        result = await Engine(registry).run(flow, execution_id=EXECUTION_ID)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["node"] == "b"
