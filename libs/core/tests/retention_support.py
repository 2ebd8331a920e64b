"""Jobs of every kind written straight into a migrated database, with a row in every table under them and
artifact files as old as the job, for the retention tests."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from planwright.core.artifacts import ArtifactStore
from planwright.core.db.schema import (
    artifacts,
    critic_verdicts,
    events,
    idempotency_keys,
    jobs,
    llm_calls,
    plans,
    policy_decisions,
    tasks,
)
from planwright.core.events import utcnow


@dataclass
class Seeded:
    id: UUID
    rows: dict[str, int]  # per table
    hashes: list[str]


async def seed_job(
    engine: AsyncEngine,
    store: ArtifactStore,
    *,
    status: str = "succeeded",
    age: timedelta = timedelta(days=40),
    pinned: bool = False,
    contents: tuple[bytes, ...] = (),
    events_count: int = 3,
    tenant: str = "default",
) -> Seeded:
    """A job that finished ``age`` ago (unfinished ones have no finish time), one task, ``events_count``
    events, one row in each other table, and an artifact per item of ``contents`` (files stored, and
    dated, as the job)."""
    job_id, task_id = uuid.uuid4(), uuid.uuid4()
    when = utcnow() - age
    finished = status in ("succeeded", "failed", "cancelled")
    hashes = []
    artifact_rows = []
    for i, data in enumerate(contents):
        stored = store.put(f"a{i}.md", data)
        stamp = when.timestamp()
        os.utime(store.path_for(stored.sha256), (stamp, stamp))
        hashes.append(stored.sha256)
        artifact_rows.append(
            {
                "id": uuid.uuid4(),
                "job_id": job_id,
                "task_id": task_id,
                "attempt": 1,
                "name": stored.name,
                "sha256": stored.sha256,
                "size": stored.size,
                "media_type": stored.media_type,
                "created_at": when,
            }
        )
    of_task = {"job_id": job_id, "task_id": task_id, "attempt": 1, "created_at": when}
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(jobs).values(
                id=job_id,
                goal="a goal",
                context_json={},
                priority=1,
                status=status,
                created_at=when,
                updated_at=when,
                finished_at=when if finished else None,
                pinned=pinned,
                tenant=tenant,
            )
        )
        await conn.execute(
            sa.insert(plans).values(
                job_id=job_id, version=1, planner="rules", spec={"tasks": []}, created_at=when
            )
        )
        await conn.execute(
            sa.insert(tasks).values(
                id=task_id,
                job_id=job_id,
                plan_version=1,
                position=0,
                key="t1",
                title="a task",
                description="",
                tool="text_generate",
                args={},
                depends_on=[],
                critic_required=False,
                status="succeeded" if finished else "running",
                attempt=1,
                output={"text": "done"},
                created_at=when,
                updated_at=when,
            )
        )
        if events_count:
            await conn.execute(
                sa.insert(events),
                [
                    {
                        "job_id": job_id,
                        "type": "task.progress",
                        "task_id": task_id,
                        "data": {"n": n},
                        "created_at": when,
                    }
                    for n in range(events_count)
                ],
            )
        if artifact_rows:
            await conn.execute(sa.insert(artifacts), artifact_rows)
        await conn.execute(sa.insert(critic_verdicts).values(**of_task, verdict="approve", reasons=[]))
        await conn.execute(
            sa.insert(policy_decisions).values(**of_task, decision="allow", rule="allowed_tools", reason="ok")
        )
        await conn.execute(
            sa.insert(llm_calls).values(
                **of_task,
                provider="mock",
                model="mock",
                purpose="tool",
                input_tokens=1,
                output_tokens=1,
                latency_ms=1,
                cost_usd=0.0,
            )
        )
        await conn.execute(
            sa.insert(idempotency_keys).values(
                tenant=tenant, key=f"k-{job_id}", body_sha256="0" * 64, job_id=job_id, created_at=when
            )
        )
    rows = {
        "jobs": 1,
        "events": events_count,
        "llm_calls": 1,
        "policy_decisions": 1,
        "critic_verdicts": 1,
        "artifacts": len(contents),
        "idempotency_keys": 1,
        "tasks": 1,
        "plans": 1,
    }
    return Seeded(job_id, rows, hashes)


async def count_rows(engine: AsyncEngine, job_id: UUID) -> dict[str, int]:
    """The job's rows per table (its row in jobs included)."""
    out = {}
    async with engine.connect() as conn:
        for table in (
            events,
            llm_calls,
            policy_decisions,
            critic_verdicts,
            artifacts,
            idempotency_keys,
            tasks,
            plans,
        ):
            query = sa.select(sa.func.count()).select_from(table).where(table.c.job_id == job_id)
            out[table.name] = (await conn.execute(query)).scalar_one()
        query = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.id == job_id)
        out["jobs"] = (await conn.execute(query)).scalar_one()
    return out


def total(*seeded: Seeded) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in seeded:
        for name, n in s.rows.items():
            out[name] = out.get(name, 0) + n
    return out
