"""The retention sweeper: every API process runs one (embedded mode: the one process), shortly after
start and then every ``SWEEP_EVERY_S``; on Postgres an advisory lock lets one of them sweep at a time
(docs/adr/0025-retention-swept-by-the-api-in-short-batches.md). Never on a request's path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from planwright.core import outage
from planwright.core.events import utcnow
from planwright.core.retention import Pruned, Pruner

log = logging.getLogger(__name__)

# After start: the process serves by then, and a process restarting in a loop does not sweep each time.
FIRST_SWEEP_AFTER_S = 30.0
SWEEP_EVERY_S = 3600.0  # jobs expire by the day: an hourly sweep keeps each one small
OUTAGE_RETRY_S = 60.0  # the next try after a sweep that the database's outage stopped


class RetentionSweeper:
    def __init__(
        self,
        pruner: Pruner,
        retention_days: int,
        *,
        first_after_s: float = FIRST_SWEEP_AFTER_S,
        every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self.pruner = pruner
        self.retention = timedelta(days=retention_days)
        self.first_after_s = first_after_s
        self.every_s = every_s

    async def sweep(self, stop: asyncio.Event | None = None) -> Pruned | None:
        """One sweep now: None if another process is sweeping (Postgres)."""
        pruned = await self.pruner.prune(utcnow() - self.retention, stop=stop)
        if pruned is not None and (pruned.jobs or pruned.files):
            log.info(
                "retention: deleted %d job(s) finished over %d day(s) ago, %d artifact file(s) (%d bytes)",
                pruned.jobs,
                self.retention.days,
                pruned.files,
                pruned.bytes,
            )
        return pruned

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep until ``stop``. While the database is away a sweep fails quietly (one WARNING when the
        outage starts, one when it ends) and the next one tries again."""
        away = outage.Outage("retention", "sweeping again once it answers", log)
        wait_s = self.first_after_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait_s)
            if stop.is_set():
                return
            wait_s = self.every_s
            try:
                await self.sweep(stop)
            except Exception as exc:
                if not outage.unavailable(exc):
                    raise
                away.failed(exc)
                wait_s = min(self.every_s, OUTAGE_RETRY_S)
            else:
                away.recovered()
