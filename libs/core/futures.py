"""Waiters whose work is done for them in a batch (the intake's jobs, a worker's reports)."""

from __future__ import annotations

import asyncio


def settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    """Give a waiter its outcome: ``exc`` raised in it, or done. A waiter that already has one (it
    was cancelled, say) is left as it is."""
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)
