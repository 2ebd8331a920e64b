"""heap.settle: start-up's garbage collected, everything else frozen out of the collector's reach."""

from __future__ import annotations

import gc
import weakref

from planwright.core import heap, metrics
from planwright.core.metrics import FullCollections


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_settle_collects_start_up_garbage_then_freezes_what_is_left() -> None:
    kept = _Node()
    kept.other = _Node()
    kept.other.other = kept  # a live cycle: frozen
    garbage = _Node()
    garbage.other = garbage  # a dead cycle: collected, not frozen for good
    dead = weakref.ref(garbage)
    del garbage
    gc.disable()  # no collection of its own in between: settle's is the one that frees the cycle
    try:
        assert dead() is not None
        heap.settle()
        assert dead() is None
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # out of the collector's generations
        assert metrics.FULL_COLLECTIONS.timed in gc.callbacks  # from now on each full collection is timed
        heap.settle()  # a second call adds no second hook
        assert gc.callbacks.count(metrics.FULL_COLLECTIONS.timed) == 1
    finally:
        gc.unfreeze()  # the test session's objects go back to the collector
        gc.enable()
        while metrics.FULL_COLLECTIONS.timed in gc.callbacks:
            gc.callbacks.remove(metrics.FULL_COLLECTIONS.timed)
    assert any(o is kept for o in gc.get_objects())


def _buckets(collector: FullCollections) -> dict[str, float]:
    (family,) = collector.collect()
    return {s.labels.get("le", s.name): s.value for s in family.samples}


def test_full_collections_are_timed_into_buckets_and_young_ones_ignored(monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr("planwright.core.metrics.time.perf_counter", lambda: now[0])
    timed = FullCollections()
    for took in (0.0004, 0.03, 0.2):
        timed.timed("start", {"generation": 2})
        timed.timed("start", {"generation": 0})  # a young collection in between is not counted
        now[0] += took
        timed.timed("stop", {"generation": 0, "collected": 0, "uncollectable": 0})
        timed.timed("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    got = _buckets(timed)
    assert (got["0.001"], got["0.025"], got["0.05"], got["0.25"], got["+Inf"]) == (1, 1, 2, 3, 3)
    assert abs(got["planwright_gc_full_collection_seconds_sum"] - 0.2304) < 1e-9


def test_a_real_full_collection_is_counted() -> None:
    timed = FullCollections()
    gc.callbacks.append(timed.timed)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(timed.timed)
    got = _buckets(timed)
    assert got["+Inf"] == 1
    assert got["planwright_gc_full_collection_seconds_sum"] > 0
