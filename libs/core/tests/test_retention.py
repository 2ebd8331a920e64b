"""Retention's deletion, on SQLite and Postgres: what goes (rows in every table, unreferenced files), what
stays (pinned, unfinished, recent jobs; files another job still names), dry runs, and two prunes at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from planwright.core import metrics
from planwright.core.artifacts import ArtifactStore
from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import upgrade_head
from planwright.core.db.tests.support import postgres_database
from planwright.core.events import utcnow
from planwright.core.retention import TABLES, Pruner, parse_duration
from planwright.core.tests.retention_support import count_rows, seed_job, total

DAY = timedelta(days=1)
CUTOFF_AGE = timedelta(days=30)
GONE = dict.fromkeys(TABLES, 0)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pw.db'}"
        return
    with postgres_database() as url:
        yield url


@contextlib.asynccontextmanager
async def migrated(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade_head, database_url)
    made = make_engine(database_url, pool_size=4)
    try:
        yield made
    finally:
        await made.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated(database_url) as made:
        yield made


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:  # a loop of its own: a plain fixture
        yield url


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """Postgres only: what only Postgres has (the advisory lock)."""
    async with migrated(pg_url) as made:
        yield made


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def cutoff() -> datetime:
    return utcnow() - CUTOFF_AGE


def rows_metric(table: str) -> float:
    return float(metrics.RETENTION_ROWS.labels(table)._value.get())


async def test_an_old_finished_job_goes_with_every_row_under_it_and_its_files(engine, store):
    old = await seed_job(engine, store, contents=(b"only mine", b"also mine"))
    failed = await seed_job(engine, store, status="failed", age=40 * DAY)
    cancelled = await seed_job(engine, store, status="cancelled", age=31 * DAY)
    before = {name: rows_metric(name) for name in TABLES}
    bytes_before = float(metrics.RETENTION_BYTES._value.get())
    forgotten: list[UUID] = []

    pruned = await Pruner(engine, store, forget=forgotten.extend).prune(cutoff())

    assert pruned is not None
    assert pruned.rows == total(old, failed, cancelled)
    assert sorted(pruned.job_ids) == sorted(forgotten) == sorted([old.id, failed.id, cancelled.id])
    for job in (old, failed, cancelled):
        assert await count_rows(engine, job.id) == GONE
    assert pruned.files == 2
    assert pruned.bytes == len(b"only mine") + len(b"also mine")
    assert not any(store.path_for(sha).exists() for sha in old.hashes)
    assert {name: rows_metric(name) - before[name] for name in TABLES} == pruned.rows
    assert float(metrics.RETENTION_BYTES._value.get()) - bytes_before == pruned.bytes


async def test_pinned_unfinished_and_recent_jobs_stay(engine, store):
    pinned = await seed_job(engine, store, pinned=True, contents=(b"pinned",))
    running = await seed_job(engine, store, status="running", age=90 * DAY)
    pending = await seed_job(engine, store, status="pending", age=90 * DAY)
    recent = await seed_job(engine, store, age=29 * DAY, contents=(b"recent",))
    gone = await seed_job(engine, store)

    pruned = await Pruner(engine, store).prune(cutoff())

    assert pruned is not None
    assert pruned.job_ids == [gone.id]
    for kept in (pinned, running, pending, recent):
        assert await count_rows(engine, kept.id) == kept.rows
    assert all(store.verify(sha) for sha in pinned.hashes + recent.hashes)


async def test_a_file_whose_content_a_kept_job_also_stored_stays(engine, store):
    old = await seed_job(engine, store, contents=(b"shared bytes", b"the old job's own"))
    await seed_job(engine, store, age=DAY, contents=(b"shared bytes",))
    shared, own = old.hashes
    # The recent job stored the same bytes, which touched the file; date it back to prove that the
    # row, not the file's time, keeps it.
    stamp = (utcnow() - 40 * DAY).timestamp()
    os.utime(store.path_for(shared), (stamp, stamp))

    pruned = await Pruner(engine, store).prune(cutoff())

    assert pruned is not None
    assert pruned.files == 1
    assert store.verify(shared)
    assert not store.path_for(own).exists()


async def test_a_dry_run_changes_nothing_and_counts_what_the_prune_then_deletes(engine, store):
    jobs = [await seed_job(engine, store, contents=(f"file {i}".encode(), b"common")) for i in range(3)]
    kept = await seed_job(engine, store, age=DAY, contents=(b"kept's own",))
    pruner = Pruner(engine, store)

    dry = await pruner.prune(cutoff(), dry_run=True)

    assert dry is not None
    for job in [*jobs, kept]:
        assert await count_rows(engine, job.id) == job.rows
    assert all(store.verify(sha) for job in jobs for sha in job.hashes)
    real = await pruner.prune(cutoff())
    assert real is not None
    assert (dry.rows, dry.files, dry.bytes) == (real.rows, real.files, real.bytes)
    assert real.files == 4  # three own files and the common one
    assert sorted(dry.job_ids) == sorted(real.job_ids)


async def test_events_and_jobs_go_in_small_batches(engine, store):
    jobs = [await seed_job(engine, store, events_count=25, contents=(f"{i}".encode(),)) for i in range(5)]
    pruner = Pruner(engine, store, jobs_per_batch=2, events_per_batch=7)

    pruned = await pruner.prune(cutoff())

    assert pruned is not None
    assert pruned.rows == total(*jobs)
    assert pruned.files == 5
    for job in jobs:
        assert await count_rows(engine, job.id) == GONE


async def test_a_stop_ends_the_prune_between_batches(engine, store):
    for _ in range(3):
        await seed_job(engine, store)
    stop = asyncio.Event()
    stop.set()
    pruned = await Pruner(engine, store, jobs_per_batch=1).prune(cutoff(), stop=stop)
    assert pruned is not None
    assert pruned.jobs == 0


async def test_two_prunes_at_once_delete_each_row_once(engine, store, database_url):
    """As two API processes' sweepers would: on Postgres the second waits (or, not waiting, skips) while
    the first holds the deployment's lock; on SQLite (one API process, or the CLI beside it) both may
    run, and each row is still deleted, and counted, once."""
    seeded = [await seed_job(engine, store, events_count=5, contents=(f"{i}".encode(),)) for i in range(8)]
    other = make_engine(database_url)
    try:
        a = Pruner(engine, store, jobs_per_batch=2, events_per_batch=3)
        b = Pruner(other, store, jobs_per_batch=2, events_per_batch=3)
        results = await asyncio.gather(a.prune(cutoff(), wait=True), b.prune(cutoff(), wait=True))
        skipped = await asyncio.gather(a.prune(cutoff()), b.prune(cutoff()))
    finally:
        await other.dispose()
    done = [r for r in results if r is not None]
    rows = {name: sum(r.rows[name] for r in done) for name in TABLES}
    assert rows == total(*seeded)
    assert sum(r.files for r in done) == 8
    assert sorted(j for r in done for j in r.job_ids) == sorted(s.id for s in seeded)
    assert all(r is None or r.jobs == 0 for r in skipped)


async def test_a_prune_while_another_holds_the_lock_skips_on_postgres(pg_engine, store):
    engine = pg_engine  # the lock is Postgres's: SQLite has one API process
    await seed_job(engine, store)
    holder = Pruner(engine, store)
    async with holder._turn(wait=True) as mine:
        assert mine
        assert await Pruner(engine, store).prune(cutoff()) is None
    pruned = await Pruner(engine, store).prune(cutoff())
    assert pruned is not None
    assert pruned.jobs == 1


def test_durations_in_days_hours_minutes_seconds():
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration(" 90S ") == timedelta(seconds=90)
    for bad in ("7", "d", "1w", "1.5d", "-1d", "7d12h", ""):
        with pytest.raises(ValueError, match=r"e\.g\. 7d, 12h, 30m, 90s"):
            parse_duration(bad)


def test_a_file_stored_again_after_the_cutoff_is_not_discarded(tmp_path):
    store = ArtifactStore(tmp_path)
    sha = store.put("a.md", b"bytes").sha256
    old = (utcnow() - 40 * DAY).timestamp()
    os.utime(store.path_for(sha), (old, old))
    store.put("b.md", b"bytes")  # a worker stores the same bytes again: the file is touched
    assert store.discard(sha, utcnow() - 30 * DAY) is None
    assert store.verify(sha)
    os.utime(store.path_for(sha), (old, old))
    assert store.discardable(sha, utcnow() - 30 * DAY) == 5
    assert store.discard(sha, utcnow() - 30 * DAY) == 5
    assert not store.path_for(sha).exists()
    assert store.discard(sha, utcnow()) is None  # already gone
    store.put("c.md", b"bytes")  # and stored anew when a worker writes it again
    assert store.verify(sha)
