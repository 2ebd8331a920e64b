"""The Orchestrator's I/O: applies a batch of bus messages in one transaction, then publishes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from planwright.core import budget, ids, logs, metrics, names, tracing
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import consume
from planwright.core.db.engine import USUAL_PLANNING, Writer
from planwright.core.db.eventlog import append_events, event_rows
from planwright.core.db.eventlog import committed as stored_events
from planwright.core.db.schema import (
    artifacts,
    critic_verdicts,
    jobs,
    llm_calls,
    llm_spend,
    outbox,
    plans,
    policy_decisions,
    tasks,
)
from planwright.core.db.schema import events as event_log
from planwright.core.db.writes import (
    Change,
    Part,
    Tally,
    VersionConflict,
    insert_rows,
    tally_rows,
    update_rows,
    write_together,
)
from planwright.core.errors import InvalidTransition, NotFound
from planwright.core.events import Event, utcnow
from planwright.core.feed import EventFeed
from planwright.core.messages import (
    CriticVerdict,
    PlanCreated,
    PlanFailed,
    PlanReplanned,
    TaskCompleted,
    TaskFailed,
)
from planwright.core.outbox import Outbox, OutboxRelay, Pending, announce
from planwright.core.plan import PlanSpec
from planwright.core.policy import PolicyStore
from planwright.core.settings import Settings
from planwright.core.states import JOB_TERMINAL, JobStatus, TaskStatus
from planwright.services.api.orchestrator.apply import Applier
from planwright.services.api.orchestrator.cache import JobCache
from planwright.services.api.orchestrator.governance import ArgsCheck
from planwright.services.api.orchestrator.intake import Intake, NewJob, first_messages
from planwright.services.api.orchestrator.money import SPEND_KEYS
from planwright.services.api.orchestrator.state import (
    Changes,
    JobState,
    TaskState,
    changed_rows,
    load_jobs,
)

log = logging.getLogger(__name__)


def within(job: JobState, task: TaskState | UUID | None = None) -> contextlib.AbstractContextManager[object]:
    """Work on ``job``: what starts here belongs to the job's trace, and logs name the job (and task)."""
    task_id = task.id if isinstance(task, TaskState) else task
    return logs.bound_in(tracing.parented(job.trace), job_id=job.id, task_id=task_id)


class Orchestrator:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        outbox: Outbox,
        feed: EventFeed,
        settings: Settings,
        policy: PolicyStore | None = None,
        *,
        budgets: PolicyStore | None = None,
    ) -> None:
        """``policy`` when the gate is on; ``budgets``: the policy file for its money limits, which
        apply with the gate off too (the policy's when None)."""
        self.engine = engine
        self.bus = bus
        self.outbox = outbox
        self.feed = feed
        self.applier = Applier(settings, policy, budgets)
        self._write = asyncio.Lock()
        # The metrics and spans of the transaction in progress, for after it commits.
        self._counted: list[Callable[[], None]] = []
        self._spans: list[tracing.Span] = []
        self._pending = Pending()
        # SQLite (embedded mode) has one writer, this process: new jobs take the same lock instead of
        # waiting on the file's, and the jobs in memory are always the current ones.
        self._sole_writer = engine.dialect.name == "sqlite"
        self.writer = Writer(engine)
        self._cache = JobCache()
        # On SQLite new jobs share the Orchestrator's lock and connection; elsewhere they have their own.
        lock, intake_writer = (self._write, self.writer) if self._sole_writer else (None, Writer(engine))
        self.intake = Intake(intake_writer, outbox, feed, lock, committed=self._cache.created)
        self._held: dict[UUID, JobState] = {}  # the jobs the transaction in progress loaded
        # Postgres: a batch of messages is first applied to the jobs in memory without locking them
        # and written as one statement that checks each job's version (one round trip instead of
        # BEGIN, a locking read, the write and COMMIT); only if a version moved is it applied again
        # under the lock (docs/adr/0015-optimistic-orchestrator-writes-and-the-committers-own-feed.md).
        self._can_be_optimistic = isinstance(outbox, OutboxRelay)
        self._optimistic = False  # the attempt in progress is the optimistic one

    async def close(self) -> None:
        """Give back the connections held for writing (the engine is disposed of by its owner)."""
        await self.writer.close()
        await self.intake.writer.close()

    def forget(self, job_ids: Iterable[UUID]) -> None:
        """Drop jobs that retention deleted from memory (it holds finished jobs only by exception)."""
        self._cache.drop(job_ids)

    async def create_job(self, goal: str, context: dict[str, Any], priority: int) -> UUID:
        """Store a new job (see ``submit_job``); returns its id."""
        return (await self.submit_job(goal, context, priority)).id

    async def submit_job(
        self,
        goal: str,
        context: dict[str, Any],
        priority: int,
        *,
        tenant: str = "default",
        idempotency: tuple[str, str] | None = None,
        plan: PlanSpec | None = None,
        job_id: UUID | None = None,
    ) -> NewJob:
        """Store a new job and its first messages in one transaction (never lost once 201): job.created
        for the planner, or, with ``plan`` (already validated), that plan for the Orchestrator itself.
        With ``idempotency`` (key, request digest) the key is stored in it too (unique per tenant).
        ``job_id``: the id to store it under (a new one, ``ids.new_id``, unless given)."""
        job_id = job_id or ids.new_id()
        money = None if plan is not None else await self._money_to_plan(tenant)
        # Called inside the POST /jobs span: the job's trace is that span's, and its root.
        trace_id, trace_parent = tracing.current_ids()
        job = NewJob(
            id=job_id,
            goal=goal,
            context=context,
            priority=priority,
            created_at=utcnow(),
            trace_id=trace_id,
            trace_parent=trace_parent,
            messages=first_messages(job_id, goal, context, priority, plan, money),
            tenant=tenant,
            idempotency=idempotency,
            plan=plan,
        )
        await self.intake.submit(job)
        return job

    async def cancel_job(self, job_id: UUID) -> None:
        async def work(conn: AsyncConnection) -> list[Event]:
            states = await self._load(conn, [job_id])
            job = states.get(job_id)
            if job is None:
                raise NotFound(f"job {job_id} not found")
            if job.status in JOB_TERMINAL:
                raise InvalidTransition(
                    f"job {job_id} is already {job.status.value}; only unfinished jobs can be cancelled"
                )
            ch = Changes(now=utcnow())
            with within(job):
                self.applier.cancel(job, ch, reason="cancelled by user")
            return await self._persist(conn, states.values(), ch)

        await self._transact(work)

    async def answer_task(
        self,
        task_id: UUID,
        *,
        approve: bool,
        comment: str,
        by: str | None = None,
        args: dict[str, Any] | None = None,
        check_args: ArgsCheck | None = None,
    ) -> UUID:
        """A person (the API key named ``by``) approves or rejects a task awaiting approval, an
        approval perhaps with edited ``args`` (see ``Governance.answer``); returns its job id."""
        edited: list[TaskState] = []

        def act(job: JobState, task: TaskState, ch: Changes) -> None:
            if task.status is not TaskStatus.awaiting_approval or job.status is not JobStatus.running:
                raise InvalidTransition(
                    f"task {task_id} is {task.status.value}; only a task awaiting approval can be "
                    f"{'approved' if approve else 'rejected'}"
                )
            check = check_args
            if self.applier.answer(
                job, task, ch, approve=approve, comment=comment, by=by, args=args, check_args=check
            ):
                edited.append(task)

        async def store_args(conn: AsyncConnection) -> None:
            # tasks.args is written only here (the batch writes carry each task's state, not its args).
            for task in edited:
                await conn.execute(sa.update(tasks).where(tasks.c.id == task.id).values(args=task.args))

        return await self._on_task(task_id, act, then=store_args)

    async def give_input(self, task_id: UUID, answer: Any, *, by: str | None = None) -> UUID:
        """A person (the API key named ``by``) answers an ask_human task awaiting input; returns its
        job id. ``AnswerInvalid`` (422) when the answer does not fit the question's schema or choices."""

        def act(job: JobState, task: TaskState, ch: Changes) -> None:
            if task.status is not TaskStatus.awaiting_input or job.status is not JobStatus.running:
                raise InvalidTransition(
                    f"task {task_id} is {task.status.value}; only a task awaiting input can be answered"
                )
            self.applier.give_input(job, task, ch, answer=answer, by=by)

        return await self._on_task(task_id, act)

    async def retry_task(self, task_id: UUID) -> UUID:
        """A person retries a failed or blocked task (a failed job reopens); returns the job id."""

        def act(job: JobState, task: TaskState, ch: Changes) -> None:
            if task.status not in (TaskStatus.failed, TaskStatus.blocked):
                raise InvalidTransition(
                    f"task {task_id} is {task.status.value}; only a failed or blocked task can be retried"
                )
            if job.status not in (JobStatus.running, JobStatus.failed):
                raise InvalidTransition(
                    f"job {job.id} is {job.status.value}; tasks of a {job.status.value} job cannot be retried"
                )
            self.applier.retry(job, task, ch)

        return await self._on_task(task_id, act)

    async def _on_task(
        self,
        task_id: UUID,
        act: Callable[[JobState, TaskState, Changes], None],
        *,
        then: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> UUID:
        """Run a person's action on one task with its job locked (and ``then``, in the same
        transaction); returns the job id."""
        found: list[UUID] = []

        async def work(conn: AsyncConnection) -> list[Event]:
            job_id = (await conn.execute(sa.select(tasks.c.job_id).where(tasks.c.id == task_id))).scalar()
            if job_id is None:
                raise NotFound(f"task {task_id} not found")
            found.append(job_id)
            states = await self._load(conn, [job_id])
            task = states[job_id].task_by_id(task_id)
            assert task is not None
            ch = Changes(now=utcnow())
            with within(states[job_id], task):
                act(states[job_id], task, ch)
            if then is not None:
                await then(conn)
            return await self._persist(conn, states.values(), ch)

        await self._transact(work)
        return found[0]

    async def expire_approvals(self) -> int:
        """Fail tasks whose approval went unanswered past the policy's approval_timeout_s."""
        timeout_s = self.applier.approval_timeout_s()
        return await self._expire(TaskStatus.awaiting_approval, timeout_s, self.applier.expire_approval)

    async def expire_inputs(self) -> int:
        """Fail ask_human tasks whose question went unanswered past the policy's input_timeout_s."""
        return await self._expire(
            TaskStatus.awaiting_input, self.applier.input_timeout_s(), self.applier.expire_input
        )

    async def _expire(
        self,
        waiting: TaskStatus,
        timeout_s: float | None,
        expire: Callable[[JobState, TaskState, Changes, float], None],
    ) -> int:
        """Fail tasks ``waiting`` for a person longer than ``timeout_s`` (None: no limit)."""
        if timeout_s is None:
            return 0
        limit_s = timeout_s
        due = sa.select(tasks.c.job_id, tasks.c.id.label("task_id")).where(
            tasks.c.status == waiting.value,
            tasks.c.updated_at < utcnow() - timedelta(seconds=limit_s),
        )

        def act(job: JobState, row: Any, ch: Changes) -> bool:
            task = job.task_by_id(row.task_id)
            if task is None or task.status is not waiting:
                return False
            expire(job, task, ch, limit_s)
            return True

        return await self._sweep(due, act)

    async def expire_jobs(self) -> int:
        """Fail running jobs older than the policy's job.max_runtime_s, and those waiting for a replan
        (they ran: their runtime goes on while the planner makes the next version)."""
        if (limit_s := self.applier.max_runtime_s()) is None:
            return 0
        replanning = sa.and_(jobs.c.status == JobStatus.planning.value, jobs.c.replans > 0)
        due = sa.select(jobs.c.id.label("job_id")).where(
            sa.or_(jobs.c.status == JobStatus.running.value, replanning),
            sa.func.coalesce(jobs.c.reopened_at, jobs.c.created_at) < utcnow() - timedelta(seconds=limit_s),
        )

        def act(job: JobState, row: Any, ch: Changes) -> bool:
            if job.status is not JobStatus.running and not (job.status is JobStatus.planning and job.replans):
                return False
            self.applier.overrun(job, ch, limit_s)
            return True

        return await self._sweep(due, act)

    async def _sweep(self, due: sa.Select[Any], act: Callable[[JobState, Any, Changes], bool]) -> int:
        """Apply ``act`` to every row ``due`` selects (each with a ``job_id``), its job locked; count hits."""
        hits = 0

        async def work(conn: AsyncConnection) -> list[Event]:
            nonlocal hits
            rows = await swept(conn, due)
            states = await self._load(conn, {row.job_id for row in rows})
            ch = Changes(now=utcnow())
            hits = 0
            for row in rows:
                if (job := states.get(row.job_id)) is not None:
                    with within(job):
                        hits += act(job, row, ch)
            return await self._persist(conn, states.values(), ch)

        await self._transact(work)
        return hits

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        """Apply a batch of messages (any mix of jobs) in one transaction."""

        async def work(conn: AsyncConnection) -> list[Event]:
            ch = Changes(now=utcnow())
            charged = _charged(deliveries) if self.applier.daily_budgets() else ()
            states = await self._load(conn, (d.message.job_id for d in deliveries), charged)
            touched: dict[UUID, JobState] = {}  # in order of their first message
            for d in deliveries:
                job = states.get(d.message.job_id)
                if job is None:
                    log.warning(
                        "orchestrator: %s for unknown job %s ignored", d.message.type, d.message.job_id
                    )
                    continue
                with within(job, getattr(d.message, "task_id", None)):
                    self.applier.apply(job, d.message, ch)
                touched[job.id] = job
            for job in touched.values():
                with within(job):
                    self.applier.settle(job, ch)
                # Optimistic: every job a message was applied to is written, so its version is
                # checked (a job whose cached state was stale may have ignored a message it should not).
                job.dirty = job.dirty or self._optimistic
            return await self._persist(conn, states.values(), ch)

        # Optimistic unless other replicas were found writing the same jobs lately.
        await self._transact(work, optimistic=self._can_be_optimistic and not self._cache.shared())

    async def reconcile(self, *, page: int = 500) -> int:
        """Re-publish the pending work of every unfinished job (the bus lost it); returns the job count."""
        unfinished = jobs.c.status.notin_([status.value for status in JOB_TERMINAL])
        total = 0
        after: UUID | None = None
        while True:
            due = sa.select(jobs.c.id.label("job_id")).where(unfinished).order_by(jobs.c.id).limit(page)
            if after is not None:
                due = due.where(jobs.c.id > after)
            resumed: list[UUID] = []

            def act(job: JobState, row: Any, ch: Changes, resumed: list[UUID] = resumed) -> bool:
                self.applier.resume(job, ch)
                resumed.append(job.id)
                return True

            total += await self._sweep(due, act)
            if len(resumed) < page:
                return total
            after = resumed[-1]

    async def _transact(
        self, work: Callable[[AsyncConnection], Awaitable[list[Event]]], *, optimistic: bool = False
    ) -> None:
        # Commit and publish under one lock per process, so the live feed sees a job's events in id
        # order (an SSE client drops any id at or below the last one it sent).
        async def attempt(conn: AsyncConnection) -> list[Event]:
            self._cache.drop(self._held)  # what an attempt that failed changed in memory
            self._counted, self._spans, self._pending, self._held = [], [], Pending(), {}
            return await work(conn)

        async with self._write:
            try:
                committed = None
                if optimistic:
                    self._optimistic = True
                    try:
                        committed = await self.writer.once(attempt)
                    except VersionConflict as exc:
                        metrics.ORCHESTRATOR_CONFLICTS.inc()
                        self._cache.written_elsewhere()
                        log.debug("orchestrator: %s; applying the batch again under the lock", exc)
                    except _TooLarge:
                        pass  # applied again under the lock, written one table at a time
                    finally:
                        self._optimistic = False
                if committed is None:
                    committed = await self.writer.run(attempt)
            except BaseException:
                self._cache.drop(self._held)  # changed in memory, rolled back in the database
                raise
            finally:
                held, self._held = self._held, {}
            # Only the Redis feed uses it: the in-process feed hands every event over anyway.
            follows = None if self._sole_writer else _follow_on(held, committed)
            counted, spans = self._counted, self._spans

            def bookkeeping() -> None:
                self._cache.committed(held.values())
                for count in counted:
                    count()
                for span in spans:
                    span.end()

            await announce(self.feed, self.outbox, committed, self._pending, follows, meanwhile=bookkeeping)

    async def _load(
        self, conn: AsyncConnection, job_ids: Iterable[UUID], charged: Collection[UUID] = ()
    ) -> dict[UUID, JobState]:
        """Load the jobs; ``charged``: those whose messages report model calls (their tenants' spend
        today is read again, if a daily budget applies to them)."""
        states = await load_jobs(
            conn, job_ids, self._cache, sole_writer=self._sole_writer, optimistic=self._optimistic
        )
        self._held.update(states)
        if self.applier.daily_budgets():
            day = budget.utc_day(utcnow())
            book, limited = self.applier.day_spend, self.applier.daily_cost_usd
            tenants = {j.tenant for j in states.values() if limited(j.tenant) is not None}
            fresh = {states[i].tenant for i in charged if i in states}
            await book.read(conn, (t for t in tenants if t in fresh or book.stale(t, day)), day)
        return states

    async def _money_to_plan(self, tenant: str) -> float | None:
        """What a new job's planner may spend: the job's budget, or less if its tenant's day is
        nearly spent (read if not known lately; only for the LLM planner under a daily budget)."""
        applier, now = self.applier, utcnow()
        day = budget.utc_day(now)
        if (
            applier.settings.planner_mode == "llm"
            and applier.daily_cost_usd(tenant) is not None
            and applier.day_spend.stale(tenant, day)
        ):
            async with self.engine.connect() as conn:
                await applier.day_spend.read(conn, [tenant], day)
        return applier.money_left_for(0.0, tenant, now)

    async def _persist(self, conn: AsyncConnection, states: Iterable[JobState], ch: Changes) -> list[Event]:
        if ch.events and not self._sole_writer:
            # A job that gets events is written, so its version moves (see JobState.last_event).
            with_events = {draft.job_id for draft in ch.events}
            for job in states:
                job.dirty = job.dirty or job.id in with_events
        self._counted.extend(ch.metrics)
        self._spans.extend(ch.spans)
        task_inserts, job_updates, task_updates = changed_rows(states, ch.now)
        inserts: list[Part] = [
            (plans, ch.plans, False),
            (tasks, task_inserts, False),
            (artifacts, ch.artifacts, False),
            (critic_verdicts, ch.verdicts, False),
            (policy_decisions, ch.decisions, False),
            (llm_calls, ch.llm_calls, False),
        ]
        updates: list[Change] = [(jobs, job_updates, "id"), (tasks, task_updates, "id")]
        tally: Tally = (llm_spend, list(ch.spend.values()), SPEND_KEYS)
        if isinstance(self.outbox, OutboxRelay):
            # Postgres: every write of the batch in one statement, one round trip instead of one per
            # table (write_together answers None where it cannot: then one by one, below).
            now = utcnow()
            parts = [
                *inserts,
                (outbox, self.outbox.rows(ch.outbox), True),
                (event_log, event_rows(ch.events, now), True),
            ]
            if self._optimistic:
                # Outside a transaction (unless loading a job began one): one statement, all or
                # nothing, written only if no job's version moved since this process wrote it.
                written = await write_together(
                    conn, parts, updates, own_statement=True, guard=(jobs, "version"), tallies=[tally]
                )
                if written is None:
                    raise _TooLarge
            else:
                written = await write_together(conn, parts, updates, tallies=[tally])
            if written is not None:
                self._pending.extend(Pending(list(ch.outbox), written[-2]))
                return stored_events(ch.events, written[-1], now)
        for table, rows, _ in inserts:
            await insert_rows(conn, table, rows)
        for table, rows, key in updates:
            await update_rows(conn, table, rows, key=key)
        await tally_rows(conn, *tally)
        self._pending.extend(await self.outbox.write(conn, ch.outbox))
        return await append_events(conn, ch.events)

    async def run(
        self, stop: asyncio.Event, consumer: str = "orchestrator-1", *, max_deliveries: int = 5
    ) -> None:
        await consume(
            self.bus,
            [names.ORCHESTRATOR],
            names.G_ORCHESTRATOR,
            consumer,
            self.handle,
            stop,
            count=256,
            max_deliveries=max_deliveries,
        )


async def swept(conn: AsyncConnection, due: sa.Select[Any]) -> Sequence[Any]:
    """The rows a sweep is due to act on, read in its transaction. A sweep selects by state, and
    states have no index (one would make every task's update write its indexes too): its plan is a
    sequential scan, which the writer's session otherwise steers away from (``Writer``). Its
    parameters (a time, a page's last id) decide whether an index or a scan is the better plan, so
    Postgres chooses again for each run, with every plan open to it, as outside the writer's
    session."""
    if conn.dialect.name == "postgresql":
        await conn.execute(USUAL_PLANNING)  # until the transaction ends, in one round trip
    rows: Sequence[Any] = (await conn.execute(due)).all()
    return rows


class _TooLarge(Exception):
    """An optimistic batch holds more values than one statement may carry (nothing was written)."""


def _follow_on(held: dict[UUID, JobState], committed: Sequence[Event]) -> dict[UUID, int]:
    """After a commit: for each job that got events and whose newest event before them this process
    knew, that event's id (the live feed hands the new ones straight to its subscribers); each job's
    ``last_event`` moves to its newest."""
    newest: dict[UUID, int] = {}
    for event in committed:
        newest[event.job_id] = max(event.id, newest.get(event.job_id, 0))
    follows: dict[UUID, int] = {}
    for job_id, last in newest.items():
        job = held.get(job_id)
        if job is None:
            continue
        if job.last_event is not None:
            follows[job_id] = job.last_event
        job.last_event = last
    return follows


# The messages that report model calls (their ``llm_calls``), for the tenants' daily budgets.
_WITH_CALLS = (PlanCreated, PlanFailed, PlanReplanned, TaskCompleted, TaskFailed, CriticVerdict)


def _charged(deliveries: Sequence[Delivery]) -> set[UUID]:
    """The jobs whose messages in ``deliveries`` store model calls."""
    return {
        d.message.job_id for d in deliveries if isinstance(d.message, _WITH_CALLS) and d.message.llm_calls
    }
