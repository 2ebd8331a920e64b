"""Rows read straight from the driver (sqlite3, asyncpg) are what SQLAlchemy Core returns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from planwright.core.db import reads, writes
from planwright.core.db.schema import jobs, plans, tasks
from planwright.core.db.tests.test_writes import database_url, engine, job_row, task_row  # noqa: F401

JOB_ID = sa.bindparam("job_id", type_=sa.Uuid)
COUNTS = (
    sa.select(
        sa.func.count().label("total"),
        sa.func.coalesce(sa.func.sum(sa.cast(tasks.c.position, sa.Float)), 0.0).label("weight"),
        sa.func.sum(
            sa.case(
                (tasks.c.status.in_([sa.literal_column("'failed'"), sa.literal_column("'blocked'")]), 1),
                else_=0,
            )
        ).label("failed"),
    )
    .where(tasks.c.job_id == JOB_ID)
    .subquery()
)
DETAIL = (
    sa.select(jobs, COUNTS, plans.c.spec.label("plan_spec"), plans.c.created_at.label("plan_created_at"))
    .select_from(
        jobs.outerjoin(plans, (plans.c.job_id == jobs.c.id) & (plans.c.version == 1)).join(COUNTS, sa.true())
    )
    .where(jobs.c.id == JOB_ID)
)


async def test_a_statement_reads_back_what_core_reads(engine):  # noqa: F811
    job = job_row(finished_at=datetime(2026, 11, 26, 15, 1, 2, 345678, tzinfo=UTC), error="é\nx")
    async with engine.begin() as conn:
        await writes.insert_rows(conn, jobs, [job])
        await conn.execute(
            sa.insert(plans),
            [
                {
                    "job_id": job["id"],
                    "version": 1,
                    "planner": "rules",
                    "spec": {"tasks": [{"k": 1}]},
                    "created_at": job["created_at"],
                }
            ],
        )
        await conn.execute(
            sa.insert(tasks),
            [
                task_row(job["id"], key=f"t{n}", position=n, status=s)
                for n, s in enumerate(["failed", "succeeded"])
            ],
        )
    async with engine.connect() as conn:
        core = (await conn.execute(DETAIL, {"job_id": job["id"]})).all()
        fast = await reads.fetch_all(conn, DETAIL, {"job_id": job["id"]})
        missing = await reads.fetch_all(conn, DETAIL, {"job_id": uuid.uuid4()})
    assert [tuple(r) for r in fast] == [tuple(r) for r in core]
    assert fast[0].plan_spec == {"tasks": [{"k": 1}]}
    assert (fast[0].id, fast[0].total, fast[0].failed, fast[0].weight, fast[0].context_json) == (
        job["id"],
        2,
        1,
        1.0,
        job["context_json"],
    )
    assert missing == []


def test_an_in_over_bound_parameters_is_refused():
    stmt = sa.select(jobs.c.id).where(jobs.c.status.in_(["pending", "running"]))
    with pytest.raises(ValueError, match="IN over bound parameters"):
        reads._compile(sa.create_engine("sqlite://").dialect, stmt)
