"""The orchestrator's garbage-collector policy: survivors of a full collection are frozen out of
the next one's way, and the periodic maintenance frees cyclic garbage among frozen objects."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from orchestrator.gc_policy import GcPolicy


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def policy() -> Iterator[GcPolicy]:
    installed = GcPolicy(full_every_s=0).install()
    try:
        yield installed
    finally:
        installed.uninstall()


def test_a_full_collection_freezes_what_survived_it(policy: GcPolicy) -> None:
    assert gc.get_freeze_count() > 0  # installing froze what the process had
    survivors = [Node() for _ in range(1000)]
    frozen_before = gc.get_freeze_count()
    gc.collect()
    assert policy.full_collections >= 1
    assert gc.get_freeze_count() >= frozen_before + len(survivors)
    # The oldest generation is (nearly) empty again, so the next full collection has little to walk;
    # without the policy every survivor, the 1,000 nodes included, would sit there.
    assert len(gc.get_objects(generation=2)) < 100


def test_maintenance_frees_cycles_that_died_while_frozen(policy: GcPolicy) -> None:
    node = Node()
    alive = weakref.ref(node)
    gc.collect()  # node survives, and is frozen
    del node
    gc.collect()
    assert alive() is not None  # frozen: the collector does not look at it
    policy.maintain()
    assert alive() is None
    assert policy.maintenance_runs == 1
    assert gc.get_freeze_count() > 0  # frozen again after the maintenance


def test_uninstall_gives_the_process_back_its_defaults() -> None:
    policy = GcPolicy(full_every_s=0).install()
    policy.uninstall()
    assert gc.get_freeze_count() == 0
    assert policy._on_collection not in gc.callbacks


def test_a_slow_full_collection_is_logged(
    policy: GcPolicy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("orchestrator.gc_policy.SLOW_COLLECTION_S", 0.0)
    with caplog.at_level("WARNING", logger="rpa.orchestrator.gc"):
        gc.collect()
    assert any("full garbage collection held the server" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr("orchestrator.gc_policy.SLOW_COLLECTION_S", 60.0)
    caplog.clear()
    gc.collect()
    assert not caplog.records


def test_the_youngest_generation_is_collected_less_often_until_uninstalled() -> None:
    before = gc.get_threshold()
    installed = GcPolicy(full_every_s=0, young_threshold=20_000).install()
    try:
        assert gc.get_threshold() == (20_000, *before[1:])
    finally:
        installed.uninstall()
    assert gc.get_threshold() == before
    kept = GcPolicy(full_every_s=0, young_threshold=0).install()
    try:
        assert gc.get_threshold() == before
    finally:
        kept.uninstall()
