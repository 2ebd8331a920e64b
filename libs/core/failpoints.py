"""Crash points for fault-injection tests: a process started with ``PLANWRIGHT_FAILPOINTS=<name>[,...]``
kills itself (SIGKILL, as a crash would end it) when it reaches one of those points. Unset, as in
production, reaching a point is one lookup in an empty set.

Points: ``worker.reported`` (a worker has just published a task's result and acknowledged its
delivery, in one step).
"""

from __future__ import annotations

import os
import signal

ARMED = frozenset(name for name in os.environ.get("PLANWRIGHT_FAILPOINTS", "").split(",") if name)


def reach(name: str) -> None:
    """Die here, at once and without cleanup, if the process was started with ``name`` armed."""
    if name in ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
