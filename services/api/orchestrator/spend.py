"""What each tenant's model calls cost today (UTC), as far as this process knows.

The truth is ``llm_spend``, added to in the write that stores the calls, by every replica. Each
process keeps the day's total per tenant it works for, read again before a batch that stores a
tenant's calls (so the stop after a call sees every replica's spend) and otherwise at most every
``fresh_s`` (what a dispatch carries as the tenant's money left may be that old: a call it lets
through is still counted, and the next result stops the job). Only tenants under a daily budget are
read: without one, nothing here costs a query.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db.schema import llm_spend

_DAY = sa.bindparam("day", type_=sa.Date)
_READ = (
    sa.select(llm_spend.c.tenant, sa.func.sum(llm_spend.c.cost_usd).label("cost_usd"))
    .where(llm_spend.c.day == _DAY, llm_spend.c.tenant.in_(sa.bindparam("tenants", expanding=True)))
    .group_by(llm_spend.c.tenant)
)


class DaySpend:
    def __init__(self, fresh_s: float = 5.0) -> None:
        self.fresh_s = fresh_s
        self._known: dict[str, tuple[date, float, float]] = {}  # tenant -> (day, US dollars, read at)

    def spent(self, tenant: str, day: date) -> float:
        """The tenant's spend on ``day`` as last read, plus what this process added since."""
        known = self._known.get(tenant)
        return known[1] if known is not None and known[0] == day else 0.0

    def add(self, tenant: str, day: date, usd: float) -> None:
        """Calls of a batch being written (read again before the next batch that stores any)."""
        known = self._known.get(tenant)
        read_at = known[2] if known is not None and known[0] == day else 0.0  # a new day: read it
        self._known[tenant] = (day, self.spent(tenant, day) + usd, read_at)

    def stale(self, tenant: str, day: date) -> bool:
        known = self._known.get(tenant)
        return known is None or known[0] != day or time.monotonic() - known[2] > self.fresh_s

    async def read(self, conn: AsyncConnection, tenants: Iterable[str], day: date) -> None:
        """Read the day's totals of ``tenants`` (one query)."""
        wanted = sorted(set(tenants))
        if not wanted:
            return
        found = {r.tenant: r.cost_usd for r in await conn.execute(_READ, {"day": day, "tenants": wanted})}
        now = time.monotonic()
        for tenant in wanted:
            self._known[tenant] = (day, float(found.get(tenant) or 0.0), now)
