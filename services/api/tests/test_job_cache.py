"""The Orchestrator's jobs in memory: never used once another replica wrote the job, never kept when
the batch that changed them rolled back."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from planwright.core import metrics, names
from planwright.core.bus import MemoryBus
from planwright.core.bus.base import Delivery
from planwright.core.db.engine import make_engine
from planwright.core.db.eventlog import append_events, events_after
from planwright.core.db.migrate import upgrade_head
from planwright.core.db.schema import jobs, tasks
from planwright.core.db.tests.support import postgres_database
from planwright.core.feed import MemoryFeed
from planwright.core.messages import PlanCreated, PlanStarted, TaskCompleted, TaskDispatch, TaskStarted
from planwright.core.outbox import DirectOutbox, OutboxRelay
from planwright.core.planning.rules import RuleBasedPlanner
from planwright.core.settings import Settings
from planwright.core.tools_builtin import default_registry
from planwright.services.api.orchestrator import Orchestrator
from planwright.services.api.orchestrator.service import swept

GOAL = "Write a note; then summarize it"


async def handle(orchestrator: Orchestrator, *messages: object) -> None:
    await orchestrator.handle([Delivery(names.ORCHESTRATOR, str(i), m, 1) for i, m in enumerate(messages)])  # type: ignore[arg-type]


async def dispatched(bus: MemoryBus) -> list[TaskDispatch]:
    got = await bus.read(names.DISPATCH_LANES, names.G_WORKER, "test", count=100, block_s=0)
    await bus.ack(names.G_WORKER, got)
    return [d.message for d in got if isinstance(d.message, TaskDispatch)]


@pytest.fixture
def database_url():
    try:
        with postgres_database() as url:
            yield url
    except OSError as exc:  # pragma: no cover - the CI machine always has Postgres
        pytest.skip(f"Postgres is not reachable: {exc}")


def conflicts() -> float:
    return float(metrics.ORCHESTRATOR_CONFLICTS._value.get())


@pytest.mark.parametrize("outbox", ["direct", "relay"])
async def test_a_replica_reloads_a_job_another_replica_wrote(tmp_path, database_url, outbox):
    """``direct``: each batch locks its jobs and checks their versions first. ``relay`` (as the
    distributed API runs it): a batch is written optimistically, and the stale one is applied again
    under the lock."""
    await asyncio.to_thread(upgrade_head, database_url)
    settings = Settings(_env_file=None, planwright_data_dir=tmp_path)
    bus = MemoryBus()
    replicas = []
    for _ in range(2):
        engine = make_engine(database_url, pool_size=2)
        box = DirectOutbox(bus) if outbox == "direct" else OutboxRelay(engine, bus)
        replicas.append(Orchestrator(engine, bus, box, MemoryFeed(), settings))
    a, b = replicas
    before = conflicts()
    try:
        job_id = await a.create_job(GOAL, {}, 1)
        plan = RuleBasedPlanner(default_registry()).plan(GOAL)
        await handle(
            a,
            PlanStarted(job_id=job_id, planner="rules"),
            PlanCreated(job_id=job_id, plan=plan, planner="rules"),
        )
        (first,) = await dispatched(bus)  # replica a now holds the job in memory, first task queued
        ident = first.ident()
        await handle(b, TaskStarted(**ident, worker="w1"))  # b moves it to running
        assert conflicts() == before  # b had not seen the job: it read it, nothing to conflict with
        await handle(a, TaskCompleted(**ident, output={"text": "a note"}))
        assert conflicts() == before + (outbox == "relay")

        async with a.engine.connect() as conn:
            events = [e.type for e in await events_after(conn, job_id, 0) if e.task_id == first.task_id]
            status = (
                await conn.execute(sa.select(tasks.c.status).where(tasks.c.id == first.task_id))
            ).scalar()
        # Had a used its stale copy (task still queued) it would have passed through running again.
        assert events == ["task.ready", "task.queued", "task.running", "task.succeeded"]
        assert status == "succeeded"
        (second,) = await dispatched(bus)
        assert second.key == "summarize_text"

        # b's copy is stale now too (its first conflict, if optimistic); a knows the job is shared:
        # its next batch for it takes the lock at once, without a second conflict.
        await handle(b, TaskStarted(**second.ident(), worker="w2"))
        after_b = conflicts()
        assert after_b == before + 2 * (outbox == "relay")
        await handle(a, TaskCompleted(**second.ident(), output={"text": "a summary"}))
        assert conflicts() == after_b
        async with a.engine.connect() as conn:
            job_status = (await conn.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id))).scalar()
            events = [e.type for e in await events_after(conn, job_id, 0) if e.task_id == second.task_id]
        assert events == ["task.ready", "task.queued", "task.running", "task.succeeded"]
        assert job_status == "succeeded"
    finally:
        for replica in replicas:
            await replica.close()
            await replica.engine.dispose()


async def test_a_rolled_back_batch_leaves_nothing_in_memory(runtime_factory, monkeypatch):
    runtime = await runtime_factory(("orchestrator",))
    orchestrator = runtime.orchestrator
    job_id = await orchestrator.create_job(GOAL, {}, 1)
    plan = RuleBasedPlanner(runtime.registry).plan(GOAL)
    await handle(
        orchestrator,
        PlanStarted(job_id=job_id, planner="rules"),
        PlanCreated(job_id=job_id, plan=plan, planner="rules"),
    )
    (first,) = await dispatched(runtime.bus)
    started = TaskStarted(**first.ident(), worker="w1")

    async def failing(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the disk is full")

    target = "planwright.services.api.orchestrator.service.append_events"
    monkeypatch.setattr(target, failing)
    with pytest.raises(RuntimeError):
        await handle(orchestrator, started)
    monkeypatch.setattr(target, append_events)

    await handle(orchestrator, started)  # redelivered: applies now, as if the first try never happened
    async with runtime.engine.connect() as conn:
        status = (await conn.execute(sa.select(tasks.c.status).where(tasks.c.id == first.task_id))).scalar()
        events = [e.type for e in await events_after(conn, job_id, 0) if e.task_id == first.task_id]
    assert status == "running"
    assert events == ["task.ready", "task.queued", "task.running"]


async def test_a_batch_too_large_for_one_statement_is_written_under_the_lock(
    tmp_path, database_url, monkeypatch
):
    """An optimistic batch that one statement cannot carry writes nothing, and is applied again the
    locked way (one statement per table): no conflict counted, the same result."""
    from planwright.core.db import writes

    await asyncio.to_thread(upgrade_head, database_url)
    settings = Settings(_env_file=None, planwright_data_dir=tmp_path)
    bus = MemoryBus()
    engine = make_engine(database_url, pool_size=2)
    orchestrator = Orchestrator(engine, bus, OutboxRelay(engine, bus), MemoryFeed(), settings)
    before = conflicts()
    try:
        job_id = await orchestrator.create_job(GOAL, {}, 1)
        monkeypatch.setattr(writes, "_MAX_VALUES", 10)  # the plan's rows hold far more values
        plan = RuleBasedPlanner(default_registry()).plan(GOAL)
        await handle(
            orchestrator,
            PlanStarted(job_id=job_id, planner="rules"),
            PlanCreated(job_id=job_id, plan=plan, planner="rules"),
        )
        (first,) = await dispatched(bus)
        assert first.key == "generate_text"
        assert conflicts() == before
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.select(sa.func.count()).where(tasks.c.job_id == job_id))).scalar()
        assert stored == 2
    finally:
        await orchestrator.close()
        await engine.dispose()


async def test_the_batches_look_rows_up_by_key_and_the_sweeps_scan(tmp_path, database_url):
    """The writer's session plans without sequential scans (a generic plan made while the tables were
    small would scan them at every batch), on generic plans only; a sweep, which selects by state,
    scans in its transaction, and Postgres chooses its plan for each run."""
    await asyncio.to_thread(upgrade_head, database_url)
    engine = make_engine(database_url, pool_size=2)
    bus = MemoryBus()
    orchestrator = Orchestrator(
        engine,
        bus,
        OutboxRelay(engine, bus),
        MemoryFeed(),
        Settings(_env_file=None, planwright_data_dir=tmp_path),
    )
    names = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin", "plan_cache_mode")
    setting = sa.select(*(sa.func.current_setting(name) for name in names))

    async def settings(conn):
        return tuple((await conn.execute(setting)).one())

    async def in_a_sweep(conn):
        return tuple(tuple(row) for row in await swept(conn, setting))

    writers = ("off", "off", "off", "force_generic_plan")
    try:
        assert await orchestrator.writer.once(settings) == writers
        assert await orchestrator.intake.writer.once(settings) == writers
        assert await orchestrator.writer.run(in_a_sweep) == (("on", "on", "on", "auto"),)
        assert await orchestrator.writer.once(settings) == writers  # that transaction's only
    finally:
        await orchestrator.close()
        await engine.dispose()
