"""The agent's garbage-collector policy: start-up objects frozen, young collections rarer, never
disabled, and everything put back when it is removed."""

from __future__ import annotations

import gc

import pytest

from agent.runtime import AgentGcPolicy
from agent.runtime._gc import ENV_YOUNG_THRESHOLD, YOUNG_THRESHOLD


class Cycle:
    def __init__(self) -> None:
        self.me = self


def in_generations(target: object) -> bool:
    """Whether the collector walks `target` (it is in generation 0, 1 or 2, not frozen)."""
    return any(obj is target for generation in range(3) for obj in gc.get_objects(generation))


def test_install_freezes_start_up_objects_and_raises_only_the_young_threshold():
    before = gc.get_threshold()
    start_up = Cycle()  # alive before install, like the imported code

    with AgentGcPolicy(young_threshold=12_345).applied() as policy:
        assert policy.installed
        assert policy.frozen > 0
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (12_345, before[1], before[2])
        assert gc.isenabled()
        assert not in_generations(start_up)  # out of the collector's way

    assert not policy.installed
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    assert in_generations(start_up)


def test_cyclic_garbage_made_while_installed_is_still_collected():
    import weakref

    with AgentGcPolicy().applied():
        garbage = Cycle()
        ref = weakref.ref(garbage)
        del garbage
        assert ref() is not None  # a cycle: reference counting alone does not free it
        gc.collect()
        assert ref() is None


def test_install_is_idempotent_and_zero_keeps_pythons_threshold():
    before = gc.get_threshold()
    policy = AgentGcPolicy(young_threshold=0)
    try:
        policy.install()
        frozen = policy.frozen
        policy.install()
        assert policy.frozen == frozen
        assert gc.get_threshold() == before
    finally:
        policy.uninstall()
    policy.uninstall()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_young_threshold_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV_YOUNG_THRESHOLD, raising=False)
    assert AgentGcPolicy().young_threshold == YOUNG_THRESHOLD
    monkeypatch.setenv(ENV_YOUNG_THRESHOLD, "2500")
    assert AgentGcPolicy().young_threshold == 2500
    monkeypatch.setenv(ENV_YOUNG_THRESHOLD, "lots")
    with pytest.raises(ValueError, match=f"{ENV_YOUNG_THRESHOLD} must be a whole number, not 'lots'"):
        AgentGcPolicy()
    monkeypatch.setenv(ENV_YOUNG_THRESHOLD, "-1")
    with pytest.raises(ValueError, match="must be 0 or more"):
        AgentGcPolicy()
