"""New jobs, stored in group commits: every ``POST /jobs`` waiting at once shares one transaction.

A request waits only for the commit that holds its job, never for the Orchestrator's batch work
(in embedded mode SQLite has one writer, so a commit still waits for the write in progress).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core import names, outage
from planwright.core.db.engine import Writer
from planwright.core.db.eventlog import append_events, committed, event_rows
from planwright.core.db.schema import events as event_log
from planwright.core.db.schema import idempotency_keys, jobs, outbox
from planwright.core.db.writes import Part, insert_rows, write_together
from planwright.core.events import Event, EventDraft, utcnow
from planwright.core.feed import EventFeed
from planwright.core.futures import settle
from planwright.core.messages import JobCreated, Message, PlanCreated, PlanStarted
from planwright.core.outbox import Outbox, OutboxRelay, Pending, announce
from planwright.core.plan import PlanSpec
from planwright.core.states import JobStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewJob:
    id: UUID
    goal: str
    context: dict[str, Any]
    priority: int
    created_at: datetime
    trace_id: str | None
    trace_parent: str | None
    # Built in the request, so they carry its trace context: job.created for the planner, or (an
    # explicit plan) plan.started and plan.created for the Orchestrator.
    messages: tuple[tuple[str, Message], ...]
    tenant: str = "default"
    plan: PlanSpec | None = None  # submitted with the job: the planner is skipped
    # (Idempotency-Key, SHA-256 of the request): stored with the job, in its transaction.
    idempotency: tuple[str, str] | None = None


EXPLICIT = "explicit"  # the planner name of a plan submitted with its job


def first_messages(
    job_id: UUID,
    goal: str,
    context: dict[str, Any],
    priority: int,
    plan: PlanSpec | None = None,
    money_left: float | None = None,
) -> tuple[tuple[str, Message], ...]:
    """What starts a job: job.created for the planner (with the US dollars its calls may cost), or
    its submitted plan for the Orchestrator."""
    if plan is None:
        created = JobCreated(
            job_id=job_id, goal=goal, context=context, priority=priority, money_left=money_left
        )
        return ((names.JOBS, created),)
    return (
        (names.ORCHESTRATOR, PlanStarted(job_id=job_id, planner=EXPLICIT)),
        (names.ORCHESTRATOR, PlanCreated(job_id=job_id, plan=plan, planner=EXPLICIT)),
    )


class Intake:
    def __init__(
        self,
        writer: Writer,
        outbox: Outbox,
        feed: EventFeed,
        lock: asyncio.Lock | None = None,
        *,
        committed: Callable[[Sequence[NewJob], Sequence[Event]], None] = lambda _jobs, _events: None,
        max_batch: int = 500,
    ) -> None:
        # Told of each commit's jobs and their events (the Orchestrator keeps the jobs in memory).
        self._committed = committed
        self.writer = writer
        self._outbox = outbox
        self._feed = feed
        self._lock = lock  # shared with the Orchestrator's writes when the database has one writer
        self._max_batch = max_batch
        self._waiting: list[tuple[NewJob, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, job: NewJob) -> None:
        """Return once ``job`` is committed (its ``job.created`` is then on its way to the planner)."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((job, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="intake")
        await done  # a client that leaves cancels only its wait: the writer still commits the job

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            await self._commit_each(batch)

    async def _commit_each(self, batch: Sequence[tuple[NewJob, asyncio.Future[None]]]) -> None:
        """Commit the batch together; if that fails, one by one, so one bad job fails only itself.
        Each request is answered once its job is committed, before the job's message is published
        (it is durable from the commit on: an outbox row, or the reconciler in embedded mode)."""

        def answer() -> None:
            for _, done in batch:
                settle(done, None)

        try:
            await self._commit([job for job, _ in batch], answer)
        except Exception as exc:
            if len(batch) == 1 or outage.unavailable(exc):  # (the database is away: each would fail too)
                for _, done in batch:
                    settle(done, exc)
                return
            log.warning("intake: committing %d jobs together failed (%s); one by one", len(batch), exc)
            for item in batch:
                await self._commit_each([item])

    async def _commit(self, new: Sequence[NewJob], answer: Callable[[], None]) -> None:
        items = [item for job in new for item in job.messages]
        with_plans = any(job.plan is not None for job in new)  # else the column is left out
        created = [
            EventDraft(job_id=job.id, type="job.created", data={"goal": job.goal, "priority": job.priority})
            for job in new
        ]

        remembered = [_remembered(job) for job in new if job.idempotency is not None]

        async def store(conn: AsyncConnection) -> tuple[Pending, list[Event]]:
            await insert_rows(conn, jobs, [_row(job, with_plans) for job in new])
            if remembered:
                await insert_rows(conn, idempotency_keys, remembered)
            pending = await self._outbox.write(conn, items)
            return pending, await append_events(conn, created)

        async def store_at_once(conn: AsyncConnection) -> tuple[Pending, list[Event]] | None:
            # Postgres with outbox rows: the job rows, their outbox rows and their events in one
            # statement (one round trip, no BEGIN/COMMIT), the transaction's all-or-nothing kept.
            if not isinstance(self._outbox, OutboxRelay):
                return None
            now = utcnow()
            parts: list[Part] = [
                (jobs, [_row(job, with_plans) for job in new], False),
                (outbox, self._outbox.rows(items), True),
                (event_log, event_rows(created, now), True),
                (idempotency_keys, remembered, False),
            ]
            written = await write_together(conn, parts, own_statement=True)
            if written is None:
                return None
            _, outbox_ids, event_ids, _ = written
            return Pending(items, outbox_ids), committed(created, event_ids, now)

        async with self._lock or contextlib.nullcontext():
            done = await self.writer.once(store_at_once) if self._lock is None else None
            pending, events = done if done is not None else await self.writer.run(store)
            self._committed(new, events)
            try:
                # Distributed: the planner's message is written to the bus first, then the callers
                # are answered (one socket write ahead of the 201); embedded: answered first.
                # A new job had no events before these: a stream that subscribed before the commit
                # (POST /jobs answered with its events) is handed them without reading them back.
                follows = {job.id: 0 for job in new}
                await announce(self._feed, self._outbox, events, pending, follows, meanwhile=answer)
            except Exception:
                # Committed: the outbox relay's sweep sends it (embedded: the next start's reconcile).
                log.exception("intake: announcing %d committed job(s) failed", len(new))


def _row(job: NewJob, with_plan: bool) -> dict[str, Any]:
    plan = {"submitted_plan": job.plan.model_dump(mode="json") if job.plan else None} if with_plan else {}
    return {
        **plan,
        "id": job.id,
        "goal": job.goal,
        "context_json": job.context,
        "priority": job.priority,
        "status": JobStatus.pending.value,
        "created_at": job.created_at,
        "updated_at": job.created_at,
        "trace_id": job.trace_id,
        "trace_parent": job.trace_parent,
        "tenant": job.tenant,
    }


def _remembered(job: NewJob) -> dict[str, Any]:
    assert job.idempotency is not None
    key, body_sha256 = job.idempotency
    return {
        "tenant": job.tenant,
        "key": key,
        "body_sha256": body_sha256,
        "job_id": job.id,
        "created_at": job.created_at,
    }
