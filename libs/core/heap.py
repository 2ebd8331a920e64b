"""The cyclic garbage collector in a long-running process (docs/adr/0030).

A full collection walks every object that can be in a cycle, and stops the whole process while it
does: the event loop, so every job and every event stream. A Planwright process holds ~120,000 such
objects from its start alone (modules, classes, the app, the schemas, the tool registry), none of
which ever becomes garbage; walking them doubled each full collection (140 ms instead of 70 ms with
2,000 event streams open, measured in embedded mode).
"""

from __future__ import annotations

import gc

from planwright.core import metrics


def settle() -> None:
    """Once a process has started: what start-up left as garbage is collected, and everything else it
    made is moved out of the collector's reach for good (``gc.freeze``). Objects made later are
    collected as before, and each full collection from then on is timed
    (``planwright_gc_full_collection_seconds``). Called by the commands that run a service, not by the
    library, so that a test session's objects are never frozen."""
    gc.collect()
    gc.freeze()
    if metrics.FULL_COLLECTIONS.timed not in gc.callbacks:
        gc.callbacks.append(metrics.FULL_COLLECTIONS.timed)
