"""Embedded mode: a restart loses no job. The in-process bus dies; the database remembers."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from planwright.core import names
from planwright.core.bus.base import Delivery
from planwright.core.db.schema import tasks
from planwright.core.messages import TaskCompleted, TaskDispatch, TaskStarted
from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job


async def test_unfinished_work_resumes_after_a_restart(runtime_factory, demo_goal):
    # First life has no worker: the demo job's first task is queued on the in-process bus when the
    # process stops, and that bus is gone with it.
    first = await runtime_factory(roles=("orchestrator", "planner"))
    waiting = await first.orchestrator.create_job(demo_goal, {}, 1)
    other = await first.orchestrator.create_job("Write a note about restarts", {}, 1)
    await first.stop()

    second = await runtime_factory()
    app = create_app(second)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        for job_id in (waiting, other):
            job = await wait_for_job(client, str(job_id))
            assert job["status"] == "succeeded", job["error"]
    async with second.engine.connect() as conn:
        rows = (
            (await conn.execute(sa.select(tasks.c.status).where(tasks.c.job_id == waiting))).scalars().all()
        )
    assert rows == ["succeeded"] * 3


async def test_a_task_running_at_the_crash_gets_a_fresh_attempt(runtime_factory, demo_goal):
    first = await runtime_factory(roles=("orchestrator", "planner"))
    job_id = await first.orchestrator.create_job(demo_goal, {}, 1)
    # Play a worker that starts the task and then dies with the process.
    (d,) = await first.bus.read(names.DISPATCH_LANES, names.G_WORKER, "w", count=1, block_s=5)
    assert isinstance(d.message, TaskDispatch)
    task_id = d.message.task_id
    ident = {"job_id": job_id, "task_id": task_id, "attempt": 1}
    await first.orchestrator.handle([Delivery(names.ORCHESTRATOR, "1", TaskStarted(**ident, worker="w"), 1)])
    await first.stop()

    second = await runtime_factory(roles=("orchestrator",))

    async def row():
        async with second.engine.connect() as conn:
            return (await conn.execute(sa.select(tasks).where(tasks.c.id == task_id))).one()

    assert ((await row()).status, (await row()).attempt) == ("queued", 2)
    # The dead worker's late result for attempt 1 changes nothing.
    late = TaskCompleted(**ident, output={"text": "late"})
    await second.orchestrator.handle([Delivery(names.ORCHESTRATOR, "2", late, 1)])
    r = await row()
    assert (r.status, r.attempt, r.output) == ("queued", 2, None)


async def test_reconcile_pages_through_every_unfinished_job(runtime_factory):
    runtime = await runtime_factory(roles=("orchestrator",))  # nobody plans: every job stays pending
    ids = {await runtime.orchestrator.create_job(f"Write note {i}", {}, 1) for i in range(5)}
    await runtime.relay.flush()
    first = await runtime.bus.read([names.JOBS], names.G_PLANNER, "p", count=100, block_s=0)
    assert {d.message.job_id for d in first} == ids
    assert await runtime.orchestrator.reconcile(page=2) == 5
    await runtime.relay.flush()
    again = await runtime.bus.read([names.JOBS], names.G_PLANNER, "p", count=100, block_s=0)
    assert sorted(str(d.message.job_id) for d in again) == sorted(str(i) for i in ids)  # each once more
