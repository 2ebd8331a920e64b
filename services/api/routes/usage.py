"""What model calls cost: GET /usage."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from planwright.core.budget import utc_day
from planwright.core.errors import Forbidden
from planwright.core.events import utcnow
from planwright.services.api import schemas, usage
from planwright.services.api.auth import principal_of
from planwright.services.api.deps import ConnDep

router = APIRouter(tags=["usage"])
_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": schemas.ErrorOut},
    422: {"model": schemas.ErrorOut},
}


@router.get("/usage", response_model=schemas.UsageReport, responses=_ERRORS)
async def get_usage(
    conn: ConnDep,
    request: Request,
    from_: Annotated[
        date | None, Query(alias="from", description="First UTC day (default: 29 days before to).")
    ] = None,
    to: Annotated[date | None, Query(description="Last UTC day, inclusive (default: today).")] = None,
    tenant: Annotated[
        str | None, Query(max_length=64, description="Whose usage: another tenant's needs the admin scope.")
    ] = None,
    jobs: Annotated[int, Query(ge=1, le=100, description="How many of the most expensive jobs.")] = 10,
) -> schemas.UsageReport:
    """Model spend and tokens per UTC day, model, tenant and job, with totals, over at most 366 days
    (default: the last 30). A key sees its own tenant's; an admin key, every tenant's (or ``tenant``'s)."""
    first, last = usage.days_of(from_, to, utc_day(utcnow()))
    caller = principal_of(request)
    whose = tenant
    if caller.tenant is not None and "admin" not in caller.scopes:
        if tenant not in (None, caller.tenant):
            raise Forbidden(
                f"reading tenant {tenant}'s usage needs the admin scope; leave out tenant= for yours"
            )
        whose = caller.tenant
    return await usage.usage(conn, first, last, whose, jobs)
