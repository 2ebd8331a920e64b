"""``GET /jobs/{id}/plans``: a job's plan versions in order, each with its diff against the one before."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db.schema import plans
from planwright.core.events import as_utc
from planwright.core.plan import PlanSpec
from planwright.core.planning.replan import PlanDiff, diff_plans
from planwright.services.api import queries, schemas

# A job has at most 1 + REPLAN_MAX_ROUNDS (<= 10) versions; the bound only guards the answer's size.
MAX_VERSIONS = 50


async def list_plans(conn: AsyncConnection, job_id: UUID, tenant: str | None) -> list[schemas.PlanVersionOut]:
    """The job's plan versions, oldest first; NotFound if it is not ``tenant``'s (when given)."""
    await queries.job_status(conn, job_id, tenant)
    rows = await conn.execute(
        sa.select(plans).where(plans.c.job_id == job_id).order_by(plans.c.version).limit(MAX_VERSIONS)
    )
    out: list[schemas.PlanVersionOut] = []
    before: PlanSpec | None = None
    for r in rows:
        spec = PlanSpec.model_validate(r.spec)
        out.append(
            schemas.PlanVersionOut(
                version=r.version,
                planner=r.planner,
                reason=r.reason,
                created_at=as_utc(r.created_at),
                tasks=[schemas.PlanTask.model_validate(t.model_dump()) for t in spec.tasks],
                diff=_diff_out(diff_plans(before, spec)) if before is not None else None,
            )
        )
        before = spec
    return out


def _diff_out(diff: PlanDiff) -> schemas.PlanDiffOut:
    return schemas.PlanDiffOut(
        added=diff.added,
        removed=diff.removed,
        changed=[
            schemas.TaskChangeOut(
                key=c.key,
                fields={name: schemas.FieldChange(before=b, after=a) for name, (b, a) in c.fields.items()},
            )
            for c in diff.changed
        ],
    )
