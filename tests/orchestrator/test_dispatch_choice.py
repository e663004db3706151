"""`dispatch.Choice`: which agent a pass gives the next execution to (most free slots, then the one
given least work so far, then the first listed), kept up to date as the pass assigns."""

from __future__ import annotations

import uuid

from orchestrator.runtime.dispatch import Choice
from orchestrator.runtime.hub import AgentLink

ORG = uuid.uuid4()


def link(name: str, max_jobs: int, *, running: int = 0, dispatched: int = 0) -> AgentLink:
    async def nothing(*_: object) -> None:
        return None

    made = AgentLink(
        agent_id=uuid.uuid4(),
        org_id=ORG,
        name=name,
        send=nothing,
        close=nothing,
        max_jobs=max_jobs,
        dispatched=dispatched,
    )
    for _ in range(running):
        made.running[uuid.uuid4()] = 1
    return made


def assign(chosen: AgentLink) -> None:
    """What `Dispatcher._assign` does to the agent it picked."""
    chosen.hold(uuid.uuid4(), 1)
    chosen.dispatched += 1


def test_most_free_slots_first_then_least_given_then_the_first_listed() -> None:
    a, b, c = link("a", 2), link("b", 4, running=1), link("c", 3)
    assert Choice([a, b, c]).best() is b  # 3 free
    d, e = link("d", 2, dispatched=5), link("e", 2, dispatched=1)
    assert Choice([d, e]).best() is e
    f, g = link("f", 2), link("g", 2)
    assert Choice([f, g]).best() is f


def test_a_pass_spreads_its_executions_and_stops_when_every_slot_is_taken() -> None:
    a, b = link("a", 2), link("b", 3)
    choice = Choice([a, b])
    picked = []
    while (chosen := choice.best()) is not None:
        assign(chosen)
        picked.append(chosen.name)
    assert picked == ["b", "a", "b", "a", "b"]  # 3-2, then 2-2 (a given less), ...
    assert a.free == b.free == 0


def test_a_slot_freed_during_the_pass_counts_once_its_agent_comes_up() -> None:
    a, b = link("a", 1), link("b", 1)
    choice = Choice([a, b])
    first = choice.best()
    assert first is a
    assign(a)
    assert choice.best() is b
    assign(b)
    assert choice.best() is None
    a.running.clear()  # a's job finished meanwhile
    assert choice.best() is a


def test_no_agent_is_no_choice() -> None:
    assert Choice([]).best() is None
    assert Choice([link("full", 1, running=1)]).best() is None
