"""heap.settle: start-up's garbage collected, everything else frozen out of the collector's reach."""

from __future__ import annotations

import gc
import weakref

from planwright.core import heap


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
    finally:
        gc.unfreeze()  # the test session's objects go back to the collector
        gc.enable()
    assert any(o is kept for o in gc.get_objects())
