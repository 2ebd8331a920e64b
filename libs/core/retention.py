"""Retention: finished jobs older than a cutoff, unless pinned, deleted with everything under them.

Used by the API's sweeper (RETENTION_DAYS) and by ``planwright prune``; no HTTP here. A job goes in
batches of short transactions (docs/adr/0025-retention-swept-by-the-api-in-short-batches.md): each
locks up to ``JOBS_PER_BATCH`` jobs that still qualify (skipping, on Postgres, those another
transaction holds: a pin, a retry, another sweeper), deletes at most ``EVENTS_PER_BATCH`` of their
events, and, once none are left, their other rows and the job rows. Then each artifact file whose
content hash no remaining ``artifacts`` row names is deleted, unless it was stored since the cutoff.

Children are deleted explicitly, before their job: the foreign keys cascade (SQLite runs with
``foreign_keys=ON``), but the counts per table are wanted and a cascade would be one long statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from planwright.core import metrics
from planwright.core.artifacts import ArtifactStore
from planwright.core.db.engine import make_engine
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
from planwright.core.settings import Settings
from planwright.core.states import JOB_TERMINAL

log = logging.getLogger(__name__)

JOBS_PER_BATCH = 50
# Events are the one table without a bound per job: a transaction deletes at most this many, so it
# holds SQLite's write lock (and blocks embedded mode's event loop) for milliseconds, not seconds.
EVENTS_PER_BATCH = 2000
# A file stored (or stored again: ArtifactStore.put touches it) within this long is never deleted,
# whatever the cutoff: a worker may have stored it for a task whose artifacts row is not written yet.
FILE_MIN_AGE = timedelta(minutes=10)
# One sweep at a time per deployment (Postgres): a session-level advisory lock on this key.
LOCK_KEY = 0x706C616E_70727565  # "planprue"

# Under a job, in the order they are deleted (children before parents). A new table with a job_id
# belongs here.
CHILDREN: tuple[sa.Table, ...] = (
    events,
    llm_calls,
    policy_decisions,
    critic_verdicts,
    artifacts,
    idempotency_keys,
    tasks,
    plans,
)
TABLES: tuple[str, ...] = ("jobs", *(t.name for t in CHILDREN))

_DURATION = re.compile(r"(\d{1,9})([dhms])")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m`` or ``90s`` as a timedelta; ValueError saying what is accepted."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise ValueError(
            f"{text!r} is not a duration: give a whole number and a unit, d, h, m or s "
            "(e.g. 7d, 12h, 30m, 90s)"
        )
    return timedelta(seconds=int(found[1]) * _UNIT_S[found[2]])


@dataclass
class Pruned:
    """What a prune removed (or, dry, would remove): rows per table, artifact files and their bytes."""

    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    files: int = 0
    bytes: int = 0
    job_ids: list[UUID] = field(default_factory=list)

    @property
    def jobs(self) -> int:
        return self.rows["jobs"]

    def lines(self) -> list[str]:
        """The report ``planwright prune`` prints: one line per table, then the files."""
        width = max(len(name) for name in (*TABLES, "artifact files"))
        out = [f"  {name:<{width}}  {self.rows[name]:>9}" for name in TABLES]
        out.append(f"  {'artifact files':<{width}}  {self.files:>9}  ({_size(self.bytes)})")
        return out


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def prunable(cutoff: datetime) -> sa.ColumnElement[bool]:
    """A job retention may delete: finished (succeeded, failed, cancelled) before ``cutoff``, not pinned."""
    return sa.and_(
        jobs.c.status.in_([status.value for status in JOB_TERMINAL]),
        jobs.c.finished_at < cutoff,
        jobs.c.pinned.is_(False),
    )


async def set_pinned(conn: AsyncConnection, job_id: UUID, tenant: str | None, pinned: bool) -> bool:
    """Pin or unpin a job (``tenant``'s, any when None); False if there is no such job of theirs.

    The job's ``version`` stays: nothing the Orchestrator holds or the API caches by version depends
    on ``pinned``, and no Orchestrator write names the column (so none can undo a pin)."""
    query = sa.update(jobs).where(jobs.c.id == job_id).values(pinned=pinned)
    if tenant is not None:
        query = query.where(jobs.c.tenant == tenant)
    return bool((await conn.execute(query)).rowcount)


class Pruner:
    """Deletes prunable jobs through ``engine`` and their unreferenced files from ``store``.

    ``forget`` is called with the ids of each batch's deleted jobs, after its commit (the API drops
    them from its memory)."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: ArtifactStore,
        *,
        forget: Callable[[Sequence[UUID]], None] | None = None,
        jobs_per_batch: int = JOBS_PER_BATCH,
        events_per_batch: int = EVENTS_PER_BATCH,
    ) -> None:
        self.engine = engine
        self.store = store
        self.forget = forget
        self.jobs_per_batch = jobs_per_batch
        self.events_per_batch = events_per_batch
        self._postgres = engine.dialect.name == "postgresql"

    async def prune(
        self,
        cutoff: datetime,
        *,
        dry_run: bool = False,
        wait: bool = False,
        stop: asyncio.Event | None = None,
    ) -> Pruned | None:
        """Delete (``dry_run``: count) what finished before ``cutoff``. On Postgres only one prune runs
        at a time: with another one running, returns None at once, or with ``wait`` waits for it.
        ``stop`` ends a real prune between batches (what it deleted so far is returned)."""
        async with self._turn(wait) as mine:
            if not mine:
                return None
            if dry_run:
                return await self._count(cutoff)
            return await self._delete(cutoff, stop)

    @contextlib.asynccontextmanager
    async def _turn(self, wait: bool) -> AsyncIterator[bool]:
        """This deployment's one prune at a time: Postgres's advisory lock, held by one connection for
        the sweep (released by Postgres if the process dies). SQLite has one API process."""
        if not self._postgres:
            yield True
            return
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            lock = sa.func.pg_advisory_lock if wait else sa.func.pg_try_advisory_lock
            got = await conn.scalar(sa.select(lock(LOCK_KEY)))
            mine = wait or bool(got)
            try:
                yield mine
            finally:
                if mine:
                    try:
                        await conn.execute(sa.select(sa.func.pg_advisory_unlock(LOCK_KEY)))
                    except Exception:  # a dead connection took the lock with it; never pool a live one
                        with contextlib.suppress(Exception):
                            await conn.invalidate()

    # -- deleting ----------------------------------------------------------------------------------

    async def _delete(self, cutoff: datetime, stop: asyncio.Event | None) -> Pruned:
        pruned = Pruned()
        after: tuple[datetime, UUID] | None = None
        while stop is None or not stop.is_set():
            page = await self._candidates(cutoff, after)
            if not page:
                break
            after = (page[-1].finished_at, page[-1].id)
            ids = [row.id for row in page]
            while stop is None or not stop.is_set():
                deleted, hashes, gone = await self._batch(ids, cutoff)
                for name, count in deleted.items():
                    pruned.rows[name] += count
                    metrics.RETENTION_ROWS.labels(name).inc(count)
                if gone is not None:
                    pruned.job_ids.extend(gone)
                    if self.forget is not None and gone:
                        self.forget(gone)
                    await self._delete_files(hashes, cutoff, pruned)
                    break
                await asyncio.sleep(0)  # let the loop (embedded mode: everything) run between batches
            if len(page) < self.jobs_per_batch:
                break
            await asyncio.sleep(0)
        return pruned

    async def _candidates(self, cutoff: datetime, after: tuple[datetime, UUID] | None) -> list[Any]:
        """The next page of prunable jobs, oldest first (keyset: a job a batch skipped is not met again)."""
        query = (
            sa.select(jobs.c.id, jobs.c.finished_at)
            .where(prunable(cutoff))
            .order_by(jobs.c.finished_at, jobs.c.id)
            .limit(self.jobs_per_batch)
        )
        if after is not None:
            query = query.where(sa.tuple_(jobs.c.finished_at, jobs.c.id) > sa.tuple_(*after))
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def _batch(
        self, ids: list[UUID], cutoff: datetime
    ) -> tuple[dict[str, int], set[str], list[UUID] | None]:
        """One transaction: lock the jobs of ``ids`` that still qualify; delete up to
        ``events_per_batch`` of their events and, if that was the last of them, everything else of
        theirs. Returns (rows deleted per table, the content hashes of deleted artifacts rows, the
        ids of the jobs now gone, or None while some of their events remain)."""
        deleted: dict[str, int] = {}
        async with self.engine.begin() as conn:
            lock = sa.select(jobs.c.id).where(jobs.c.id.in_(ids), prunable(cutoff))
            if self._postgres:
                # Skip a job another transaction holds (a pin, a retry, another prune): it stays.
                lock = lock.with_for_update(skip_locked=True)
            held = [row.id for row in await conn.execute(lock)]
            if not held:
                return deleted, set(), []
            chunk = (
                sa.select(events.c.id)
                .where(events.c.job_id.in_(held))
                .order_by(events.c.id)
                .limit(self.events_per_batch)
                .scalar_subquery()
            )
            count = (await conn.execute(sa.delete(events).where(events.c.id.in_(chunk)))).rowcount
            deleted["events"] = count
            if count >= self.events_per_batch:
                return deleted, set(), None
            stored = sa.select(artifacts.c.sha256).where(artifacts.c.job_id.in_(held))
            hashes = set((await conn.execute(stored)).scalars())
            for table in CHILDREN[1:]:
                result = await conn.execute(sa.delete(table).where(table.c.job_id.in_(held)))
                deleted[table.name] = result.rowcount
            deleted["jobs"] = (await conn.execute(sa.delete(jobs).where(jobs.c.id.in_(held)))).rowcount
        return deleted, hashes, held

    async def _delete_files(self, hashes: Iterable[str], cutoff: datetime, pruned: Pruned) -> None:
        """Delete the files of ``hashes`` that no artifacts row names any more and that were not stored
        since the cutoff (or within FILE_MIN_AGE)."""
        unused = await self._unreferenced(hashes)
        stored_before = _file_cutoff(cutoff)
        for sha256 in sorted(unused):
            size = await asyncio.to_thread(self.store.discard, sha256, stored_before)
            if size is not None:
                pruned.files += 1
                pruned.bytes += size
                metrics.RETENTION_FILES.inc()
                metrics.RETENTION_BYTES.inc(size)

    async def _unreferenced(self, hashes: Iterable[str]) -> set[str]:
        wanted = set(hashes)
        if not wanted:
            return set()
        async with self.engine.connect() as conn:
            query = sa.select(artifacts.c.sha256).where(artifacts.c.sha256.in_(sorted(wanted))).distinct()
            referenced = set((await conn.execute(query)).scalars())
        return wanted - referenced

    # -- counting (dry run) ------------------------------------------------------------------------

    async def _count(self, cutoff: datetime) -> Pruned:
        """What ``_delete`` would remove now, changing nothing."""
        pruned = Pruned()
        doomed = sa.select(jobs.c.id).where(prunable(cutoff)).scalar_subquery()
        async with self.engine.connect() as conn:
            found = await conn.execute(sa.select(jobs.c.id).where(prunable(cutoff)))
            pruned.job_ids = list(found.scalars())
            pruned.rows["jobs"] = len(pruned.job_ids)
            for table in CHILDREN:
                query = sa.select(sa.func.count()).select_from(table).where(table.c.job_id.in_(doomed))
                pruned.rows[table.name] = (await conn.execute(query)).scalar_one()
            theirs = sa.select(artifacts.c.sha256).where(artifacts.c.job_id.in_(doomed)).distinct()
            kept = sa.select(artifacts.c.sha256).where(artifacts.c.job_id.notin_(doomed)).distinct()
            hashes = set((await conn.execute(theirs)).scalars()) - set((await conn.execute(kept)).scalars())
        stored_before = _file_cutoff(cutoff)
        for sha256 in sorted(hashes):
            size = await asyncio.to_thread(self.store.discardable, sha256, stored_before)
            if size is not None:
                pruned.files += 1
                pruned.bytes += size
        return pruned


def _file_cutoff(cutoff: datetime) -> datetime:
    return min(cutoff, utcnow() - FILE_MIN_AGE)


async def prune_now(settings: Settings, age: timedelta, *, dry_run: bool = False) -> tuple[Pruned, datetime]:
    """``planwright prune``: what finished over ``age`` ago, pruned (or counted) once with the server's
    settings, after any sweep another process is running. Returns it and the cutoff."""
    cutoff = utcnow() - age
    if settings.embedded and not (settings.planwright_data_dir / "planwright.db").exists():
        return Pruned(), cutoff  # no database yet: nothing to prune, and none is made
    engine = make_engine(settings.db_url, pool_size=2)
    try:
        pruned = await Pruner(engine, ArtifactStore(settings.artifact_dir)).prune(
            cutoff, dry_run=dry_run, wait=True
        )
    finally:
        await engine.dispose()
    assert pruned is not None  # (waited for its turn)
    return pruned, cutoff
