"""GET /usage: what model calls cost per UTC day, model, tenant and job, over a bounded range of days.

Days, models and tenants come from ``llm_spend`` (a few rows per tenant and day, kept by the
Orchestrator, and kept by retention too); the jobs from ``jobs.cost_usd``, the jobs created in the range.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db.schema import jobs, llm_spend
from planwright.core.errors import InvalidRange
from planwright.core.events import as_utc
from planwright.services.api import schemas

MAX_DAYS = 366
DEFAULT_DAYS = 30
MAX_ROWS = 100  # models and tenants listed, most expensive first
GOAL_CHARS = 200


def days_of(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The range asked for (inclusive UTC days): the last DEFAULT_DAYS by default, at most MAX_DAYS."""
    last = last or (today if first is None else min(first + timedelta(days=DEFAULT_DAYS - 1), today))
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidRange(f"from ({first}) is after to ({last}); give from <= to")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRange(
            f"from {first} to {last} is {(last - first).days + 1} days; ask for at most {MAX_DAYS} at once"
        )
    return first, last


_SUMMED = ("calls", "unpriced_calls", "input_tokens", "output_tokens", "cost_usd")


def _sums() -> tuple[sa.ColumnElement[Any], ...]:
    return tuple(sa.func.coalesce(sa.func.sum(llm_spend.c[name]), 0).label(name) for name in _SUMMED)


def _totals(sums: Mapping[Any, Any]) -> dict[str, Any]:
    """A row's (or the range's) sums as the API shows them."""
    return {
        "calls": int(sums["calls"]),
        "unpriced_calls": int(sums["unpriced_calls"]),
        "input_tokens": int(sums["input_tokens"]),
        "output_tokens": int(sums["output_tokens"]),
        "cost_usd": round(float(sums["cost_usd"]), 6),
    }


async def usage(
    conn: AsyncConnection, first: date, last: date, tenant: str | None, top: int
) -> schemas.UsageReport:
    """``tenant``'s usage (every tenant's when None) from ``first`` to ``last`` (UTC days, inclusive)."""
    where = [llm_spend.c.day >= first, llm_spend.c.day <= last]
    if tenant is not None:
        where.append(llm_spend.c.tenant == tenant)
    spend = sa.select(*_sums()).where(*where)
    by_day = {
        r.day: r for r in await conn.execute(spend.add_columns(llm_spend.c.day).group_by(llm_spend.c.day))
    }
    days = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        found = by_day.get(day)
        days.append(schemas.UsageDay(day=day, **(_totals(found._mapping) if found is not None else {})))
    # The range's totals are its days' (no second scan of llm_spend).
    total = {name: sum(r._mapping[name] for r in by_day.values()) for name in _SUMMED}
    models = await conn.execute(
        spend.add_columns(llm_spend.c.provider, llm_spend.c.model)
        .group_by(llm_spend.c.provider, llm_spend.c.model)
        .order_by(sa.desc("cost_usd"), llm_spend.c.model)
        .limit(MAX_ROWS)
    )
    tenants = await conn.execute(
        spend.add_columns(llm_spend.c.tenant)
        .group_by(llm_spend.c.tenant)
        .order_by(sa.desc("cost_usd"), llm_spend.c.tenant)
        .limit(MAX_ROWS)
    )
    return schemas.UsageReport(
        from_=first,
        to=last,
        tenant=tenant,
        totals=schemas.UsageTotals(**_totals(total)),
        days=days,
        models=[
            schemas.UsageModel(provider=r.provider, model=r.model, **_totals(r._mapping)) for r in models
        ],
        tenants=[schemas.UsageTenant(tenant=r.tenant, **_totals(r._mapping)) for r in tenants],
        jobs=await _top_jobs(conn, first, last, tenant, top),
    )


async def _top_jobs(
    conn: AsyncConnection, first: date, last: date, tenant: str | None, top: int
) -> list[schemas.UsageJob]:
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    query = (
        sa.select(
            jobs.c.id,
            jobs.c.tenant,
            sa.func.substr(jobs.c.goal, 1, GOAL_CHARS).label("goal"),
            jobs.c.status,
            jobs.c.created_at,
            jobs.c.cost_usd,
            jobs.c.tokens_used,
        )
        .where(jobs.c.created_at >= start, jobs.c.created_at < end, jobs.c.cost_usd > 0)
        .order_by(jobs.c.cost_usd.desc(), jobs.c.id)
        .limit(top)
    )
    if tenant is not None:
        query = query.where(jobs.c.tenant == tenant)
    rows = await conn.execute(query)
    return [
        schemas.UsageJob(
            id=r.id,
            tenant=r.tenant,
            goal=r.goal,
            status=r.status,
            created_at=as_utc(r.created_at),
            cost_usd=round(r.cost_usd, 6),
            tokens_used=r.tokens_used,
        )
        for r in rows
    ]
