"""The Orchestrator's guarantees, broken on purpose: duplicates, stale attempts, late results.

Only the orchestrator runs here; the test plays planner, worker and critic by hand on the bus.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from planwright.core import names
from planwright.core.bus.base import Delivery
from planwright.core.db.eventlog import events_after
from planwright.core.db.schema import artifacts, jobs, plans, tasks
from planwright.core.errors import InvalidTransition, NotFound
from planwright.core.messages import (
    CriticVerdict,
    PlanCreated,
    PlanStarted,
    TaskCompleted,
    TaskDispatch,
    TaskFailed,
    TaskReview,
    TaskStarted,
)
from planwright.core.planning.rules import RuleBasedPlanner

ROLE = ("orchestrator",)


async def deliver(runtime, *messages):
    await runtime.orchestrator.handle(
        [Delivery(names.ORCHESTRATOR, str(i), m, 1) for i, m in enumerate(messages)]
    )
    await runtime.relay.flush()


async def take(runtime, streams, group, n=100):
    got = await runtime.bus.read(streams, group, "test", count=n, block_s=0)
    await runtime.bus.ack(group, got)
    return [d.message for d in got]


async def planned_job(runtime, goal):
    job_id = await runtime.orchestrator.create_job(goal, {}, 1)
    plan = RuleBasedPlanner(runtime.registry).plan(goal)
    created = PlanCreated(job_id=job_id, plan=plan, planner="rules")
    await deliver(runtime, PlanStarted(job_id=job_id, planner="rules"), created)
    return job_id, created


async def event_types(runtime, job_id):
    async with runtime.engine.connect() as conn:
        return [e.type for e in await events_after(conn, job_id, 0)]


async def task_rows(runtime, job_id):
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(tasks).where(tasks.c.job_id == job_id).order_by(tasks.c.position))
        return {r.key: r for r in rows}


def ident(d: TaskDispatch, attempt=None):
    return {"job_id": d.job_id, "task_id": d.task_id, "attempt": attempt or d.attempt}


async def test_a_duplicate_plan_is_ignored(runtime_factory, demo_goal):
    runtime = await runtime_factory(ROLE)
    job_id, created = await planned_job(runtime, demo_goal)
    await deliver(runtime, created, PlanStarted(job_id=job_id, planner="rules"))
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(plans))).scalar() == 1
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tasks))).scalar() == 3
    assert (await event_types(runtime, job_id)).count("plan.created") == 1
    # Only the first task is dispatched: the others wait for their dependencies.
    dispatched = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    assert [m.key for m in dispatched] == ["create_checklist"]


async def test_duplicate_and_stale_results_change_nothing(runtime_factory, demo_goal):
    runtime = await runtime_factory(ROLE)
    job_id, _ = await planned_job(runtime, demo_goal)
    (first,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    done = TaskCompleted(**ident(first), output={"text": "- [ ] a real checklist item"})
    await deliver(runtime, TaskStarted(**ident(first), worker="w1"), done, done)
    await deliver(runtime, done)  # redelivered after an ack was lost
    types = await event_types(runtime, job_id)
    assert types.count("task.succeeded") == 1

    (second,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    assert second.key == "write_artifact"
    assert second.inputs == {"create_checklist": {"text": "- [ ] a real checklist item"}}
    # The write times out (retryable): attempt 2 is dispatched; attempt 1 then reports late.
    await deliver(
        runtime,
        TaskStarted(**ident(second), worker="w1"),
        TaskFailed(**ident(second), error="timeout", retryable=True),
    )
    (retry,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    assert (retry.attempt, retry.not_before is not None) == (2, True)
    output = {"name": "tools.md", "sha256": "a" * 64, "size": 3, "media_type": "text/markdown"}
    await deliver(runtime, TaskCompleted(**ident(second, attempt=1), output=output))
    rows = await task_rows(runtime, job_id)
    assert (rows["write_artifact"].status, rows["write_artifact"].attempt) == ("queued", 2)

    await deliver(
        runtime, TaskCompleted(**ident(retry), output=output), TaskCompleted(**ident(retry), output=output)
    )
    async with runtime.engine.connect() as conn:
        arts = (await conn.execute(sa.select(artifacts))).all()
    assert [(a.name, a.attempt) for a in arts] == [("tools.md", 2)]
    rows = await task_rows(runtime, job_id)
    assert rows["write_artifact"].status == "succeeded"


async def test_a_task_taken_over_from_a_dead_worker_names_its_new_worker(runtime_factory, demo_goal):
    runtime = await runtime_factory(ROLE)
    job_id, _ = await planned_job(runtime, demo_goal)
    (first,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    await deliver(runtime, TaskStarted(**ident(first), worker="w1"))
    # w1 died mid-task; w2 took the same attempt over (its second delivery), then a late duplicate.
    taken = TaskStarted(**ident(first), worker="w2", delivery=2)
    await deliver(runtime, taken)
    await deliver(runtime, TaskStarted(**ident(first), worker="w1"))
    async with runtime.engine.connect() as conn:
        running = [e.data for e in await events_after(conn, job_id, 0) if e.type == "task.running"]
    assert running == [
        {"key": first.key, "attempt": 1, "worker": "w1"},
        {"key": first.key, "attempt": 1, "worker": "w2", "delivery": 2},
    ]
    rows = await task_rows(runtime, job_id)
    assert (rows[first.key].status, rows[first.key].attempt) == ("running", 1)


async def test_results_for_a_cancelled_job_are_ignored(runtime_factory, demo_goal):
    runtime = await runtime_factory(ROLE)
    job_id, _ = await planned_job(runtime, demo_goal)
    (first,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    await runtime.orchestrator.cancel_job(job_id)
    await deliver(
        runtime,
        TaskStarted(**ident(first), worker="w1"),
        TaskCompleted(**ident(first), output={"text": "x" * 40}),
    )
    rows = await task_rows(runtime, job_id)
    assert {r.status for r in rows.values()} == {"cancelled"}
    assert (await event_types(runtime, job_id))[-1] == "job.cancelled"


async def test_critic_rework_then_reject_after_the_cap(runtime_factory, demo_goal):
    runtime = await runtime_factory(ROLE, critic_enabled=True, critic_max_reworks=2)
    job_id, _ = await planned_job(runtime, demo_goal)
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    for attempt in (1, 2, 3):
        assert d.attempt == attempt
        await deliver(
            runtime, TaskStarted(**ident(d), worker="w"), TaskCompleted(**ident(d), output={"text": "short"})
        )
        (review,) = await take(runtime, [names.REVIEW], names.G_CRITIC)
        assert isinstance(review, TaskReview)
        assert review.attempt == attempt
        await deliver(
            runtime, CriticVerdict(**ident(d), verdict="rework", reasons=["checklist has no items"])
        )
        if attempt < 3:
            (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
            assert d.feedback == "checklist has no items"
    rows = await task_rows(runtime, job_id)
    assert rows["create_checklist"].status == "failed"
    assert rows["create_checklist"].error == "rejected by critic after 2 reworks: checklist has no items"
    assert [r.status for r in rows.values()] == ["failed", "skipped", "skipped"]
    assert (await event_types(runtime, job_id)).count("critic.verdict") == 3


async def test_critic_approval_succeeds_the_task(runtime_factory, demo_goal):
    runtime = await runtime_factory(ROLE, critic_enabled=True)
    job_id, _ = await planned_job(runtime, demo_goal)
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    await deliver(runtime, TaskCompleted(**ident(d), output={"text": "- [ ] item one is long enough"}))
    await take(runtime, [names.REVIEW], names.G_CRITIC)
    await deliver(runtime, CriticVerdict(**ident(d), verdict="approve"))
    rows = await task_rows(runtime, job_id)
    assert rows["create_checklist"].status == "succeeded"
    assert rows["write_artifact"].status == "queued"


async def test_higher_priority_jobs_use_a_higher_lane(runtime_factory):
    runtime = await runtime_factory(ROLE)
    low = await runtime.orchestrator.create_job("Write a note", {}, 0)
    high = await runtime.orchestrator.create_job("Write a note", {}, 9)
    for job_id in (low, high):
        plan = RuleBasedPlanner(runtime.registry).plan("Write a note")
        await deliver(
            runtime,
            PlanStarted(job_id=job_id, planner="r"),
            PlanCreated(job_id=job_id, plan=plan, planner="r"),
        )
    got = await take(runtime, names.DISPATCH_LANES, names.G_WORKER, n=1)
    assert got[0].job_id == high


async def test_a_plan_that_overtakes_plan_started_still_applies(runtime_factory, demo_goal):
    """Two orchestrators can receive plan.started and plan.created in either order."""
    runtime = await runtime_factory(ROLE)
    job_id = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    plan = RuleBasedPlanner(runtime.registry).plan(demo_goal)
    await deliver(runtime, PlanCreated(job_id=job_id, plan=plan, planner="rules"))
    await deliver(runtime, PlanStarted(job_id=job_id, planner="rules"))
    types = await event_types(runtime, job_id)
    assert types[:4] == ["job.created", "job.planning", "plan.created", "job.running"]
    assert types.count("job.planning") == 1
    assert [m.key for m in await take(runtime, names.DISPATCH_LANES, names.G_WORKER)] == ["create_checklist"]


async def test_giving_up_on_any_message_fails_its_work_instead_of_hanging(runtime_factory, demo_goal):
    from planwright.core.consumer import failure_for

    runtime = await runtime_factory(ROLE, critic_enabled=True)
    # A plan.created that could never be handled: the job fails at planning.
    stuck = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    await deliver(runtime, failure_for(PlanStarted(job_id=stuck, planner="rules"), "gave up"))
    assert (await event_types(runtime, stuck))[-1] == "job.failed"

    # A critic review that could never be handled: the task fails, dependents are skipped.
    job_id, _ = await planned_job(runtime, demo_goal)
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    await deliver(runtime, TaskCompleted(**ident(d), output={"text": "- [ ] long enough checklist item"}))
    (review,) = await take(runtime, [names.REVIEW], names.G_CRITIC)
    await deliver(runtime, failure_for(review, "gave up after 5 deliveries to critic"))
    statuses = [r.status for r in (await task_rows(runtime, job_id)).values()]
    assert statuses == ["failed", "skipped", "skipped"]
    assert (await event_types(runtime, job_id))[-1] == "job.failed"


async def test_a_retried_task_runs_again_with_a_fresh_budget_and_its_failed_job_reopens(
    runtime_factory, demo_goal
):
    runtime = await runtime_factory(ROLE, task_max_retries=1, retry_backoff_s=0)
    job_id, _ = await planned_job(runtime, demo_goal)
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    for attempt in (1, 2):  # one automatic retry, then out of retries
        await deliver(runtime, TaskFailed(**ident(d, attempt), error="upstream 503", retryable=True))
        if attempt == 1:
            (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    rows = await task_rows(runtime, job_id)
    assert [r.status for r in rows.values()] == ["failed", "skipped", "skipped"]

    await runtime.orchestrator.retry_task(rows["create_checklist"].id)
    await runtime.relay.flush()
    rows = await task_rows(runtime, job_id)
    checklist = rows["create_checklist"]
    assert (checklist.status, checklist.attempt, checklist.first_attempt) == ("queued", 3, 3)
    assert checklist.error is None
    assert checklist.finished_at is None
    assert [r.status for r in rows.values()] == ["queued", "pending", "pending"]
    types = await event_types(runtime, job_id)
    assert types[-6:] == [
        "job.running",
        "task.pending",
        "task.pending",
        "task.pending",
        "task.ready",
        "task.queued",
    ]
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    assert d.attempt == 3

    # The old attempt's late result is stale; the new attempt has its own automatic retry again.
    await deliver(runtime, TaskCompleted(**ident(d, 2), output={"text": "- [ ] late"}))
    await deliver(runtime, TaskFailed(**ident(d), error="upstream 503", retryable=True))
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    assert d.attempt == 4
    await deliver(runtime, TaskCompleted(**ident(d), output={"text": "- [ ] a real checklist item"}))
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    assert d.key == "write_artifact"
    output = {"name": "tools.md", "sha256": "a" * 64, "size": 3, "media_type": "text/markdown"}
    await deliver(runtime, TaskCompleted(**ident(d), output=output))
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    await deliver(runtime, TaskCompleted(**ident(d), output={"text": "summary"}))
    rows = await task_rows(runtime, job_id)
    assert [r.status for r in rows.values()] == ["succeeded"] * 3
    async with runtime.engine.connect() as conn:
        job = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).one()
    assert (job.status, job.error) == ("succeeded", None)
    assert job.reopened_at is not None
    assert job.finished_at >= job.reopened_at


async def test_only_failed_or_blocked_tasks_of_unfinished_or_failed_jobs_can_be_retried(
    runtime_factory, demo_goal
):
    runtime = await runtime_factory(ROLE)
    job_id, _ = await planned_job(runtime, demo_goal)
    (d,) = await take(runtime, names.DISPATCH_LANES, names.G_WORKER)
    queued = (await task_rows(runtime, job_id))["create_checklist"].id
    with pytest.raises(InvalidTransition, match="is queued; only a failed or blocked task can be retried"):
        await runtime.orchestrator.retry_task(queued)
    with pytest.raises(NotFound, match="not found"):
        await runtime.orchestrator.retry_task(uuid.uuid4())
    await deliver(runtime, TaskFailed(**ident(d), error="bad args", retryable=False))
    await runtime.orchestrator.retry_task(queued)  # the job failed: it reopens
    assert (await task_rows(runtime, job_id))["create_checklist"].status == "queued"

    # Two independent notes: one fails while the other runs, then a person cancels the job.
    job_id, _ = await planned_job(runtime, "write note 1; write note 2")
    first, _second = [
        m for m in await take(runtime, names.DISPATCH_LANES, names.G_WORKER) if m.job_id == job_id
    ]
    await deliver(runtime, TaskFailed(**ident(first), error="bad args", retryable=False))
    await runtime.orchestrator.cancel_job(job_id)
    before = await event_types(runtime, job_id)
    with pytest.raises(InvalidTransition, match="is cancelled; tasks of a cancelled job cannot be retried"):
        await runtime.orchestrator.retry_task(first.task_id)
    assert await event_types(runtime, job_id) == before
