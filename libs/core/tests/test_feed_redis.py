"""The Redis live feed: one reader per process for any number of watched jobs, gap-free from the DB."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import redis

from planwright.core import names
from planwright.core.db.eventlog import events_after
from planwright.core.events import Event
from planwright.core.feed import Subscription
from planwright.core.feed_redis import RedisFeed
from tests import isolation

REDIS_URL = isolation.REDIS_URL


async def _next(sub, timeout_s=5.0):
    return await asyncio.wait_for(sub.get(), timeout_s)


def _counted_reads(feed: RedisFeed, *held: str) -> list[str]:
    """The feed's reads on its held connections ``held`` (``_reads``: subscribing; ``_db``: the
    reader's), each noted by that name as it starts."""
    reads: list[str] = []
    for name in held:
        connection = getattr(feed, name)

        async def counted(work, run=connection.run, name=name):
            reads.append(name)
            return await run(work)

        connection.run = counted
    return reads


async def _committed(runtime, job_id, after=0):
    async with runtime.engine.connect() as conn:
        return await events_after(conn, job_id, after)


async def test_one_reader_serves_many_jobs(runtime_factory, redis_client, key_prefix):
    runtime = await runtime_factory(roles=("orchestrator",))  # the database only; no planner runs
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    try:
        jobs = [await runtime.orchestrator.create_job(f"Write note {i}", {}, 1) for i in range(150)]
        subs = [await feed.subscribe(job_id) for job_id in jobs]
        for job_id in jobs:
            await runtime.orchestrator.cancel_job(job_id)
            await feed.publish(await _committed(runtime, job_id, after=1))
        for sub in subs:
            event = await _next(sub)
            assert (event.job_id, event.type) == (sub.job_id, "job.cancelled")
        clients = [c for c in await redis_client.client_list() if c.get("name") == feed.client_name]
        # One blocking reader plus a connection or two to publish: a handful, not one per watched job.
        assert 1 <= len(clients) < 5, len(clients)
    finally:
        await feed.close()


async def test_a_lost_announcement_is_caught_by_the_sweep(runtime_factory, key_prefix):
    runtime = await runtime_factory(roles=("orchestrator",))
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=0.5)
    try:
        job_id = await runtime.orchestrator.create_job("Write a note", {}, 1)
        sub = await feed.subscribe(job_id)
        await runtime.orchestrator.cancel_job(job_id)  # committed, never announced on Redis
        event = await _next(sub)
        assert event.type == "job.cancelled"
    finally:
        await feed.close()


async def test_events_reach_subscribers_in_id_order_whatever_order_they_are_announced(
    runtime_factory, key_prefix
):
    runtime = await runtime_factory(roles=("orchestrator",))
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    try:
        job_id = await runtime.orchestrator.create_job("Write a note", {}, 1)
        sub = await feed.subscribe(job_id)
        await runtime.orchestrator.cancel_job(job_id)
        stored = await _committed(runtime, job_id, after=1)
        await feed.publish(stored[::-1])  # the newest announced first
        got = [await _next(sub) for _ in stored]
        assert [e.id for e in got] == [e.id for e in stored]
    finally:
        await feed.close()


async def test_a_jobs_list_on_another_replica_hears_which_jobs_changed(runtime_factory, key_prefix):
    runtime = await runtime_factory(roles=("orchestrator",))
    writer = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    reader = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    try:
        before = await runtime.orchestrator.create_job("Write an old note", {}, 1)
        await writer.publish(await _committed(runtime, before))  # announced before anyone listened
        board = await reader.watch_jobs()
        jobs = [await runtime.orchestrator.create_job(f"Write note {i}", {}, 1) for i in range(3)]
        for job_id in jobs:
            await writer.publish(await _committed(runtime, job_id))
        seen: set[object] = set()
        async with asyncio.timeout(5):
            while seen != set(jobs):
                await board.wait()
                job_ids, everything = board.take()
                assert not everything
                seen |= job_ids
        assert before not in seen
        reader.unwatch_jobs(board)
        assert not reader._boards
    finally:
        await writer.close()
        await reader.close()


async def test_a_jobs_list_is_told_to_reread_everything_after_the_sweep(runtime_factory, key_prefix):
    runtime = await runtime_factory(roles=("orchestrator",))
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=0.3)
    try:
        board = await feed.watch_jobs()
        await runtime.orchestrator.create_job("Write a note", {}, 1)  # committed, never announced
        async with asyncio.timeout(5):
            await board.wait()
        assert board.take() == (set(), True)
    finally:
        await feed.close()


async def test_clients_arriving_together_share_one_read_of_where_the_job_stands(runtime_factory, key_prefix):
    runtime = await runtime_factory(roles=("orchestrator",))
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    reads = _counted_reads(feed, "_reads")
    try:
        job_id = await runtime.orchestrator.create_job("Write a note", {}, 1)
        subs = await asyncio.gather(*(feed.subscribe(job_id) for _ in range(50)))
        assert len(reads) == 1  # one read for all fifty, not fifty
        await runtime.orchestrator.cancel_job(job_id)
        await feed.publish(await _committed(runtime, job_id, after=1))
        for sub in subs:
            assert (await _next(sub)).type == "job.cancelled"
    finally:
        await feed.close()


async def test_the_committer_hands_its_own_subscribers_the_events_without_reading_them(
    runtime_factory, key_prefix
):
    runtime = await runtime_factory(roles=("orchestrator",))
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    reads = _counted_reads(feed, "_db")
    try:
        handed, gapped, other = [await runtime.orchestrator.create_job(f"Note {i}", {}, 1) for i in range(3)]
        subs = {job_id: await feed.subscribe(job_id) for job_id in (handed, gapped, other)}
        created = {job_id: (await _committed(runtime, job_id))[0].id for job_id in subs}
        for job_id in (handed, gapped):
            await runtime.orchestrator.cancel_job(job_id)

        # Follows the last event the subscribers have: handed over at once, before any read.
        stored = await _committed(runtime, handed, after=created[handed])
        await feed.publish(stored, {handed: created[handed]})
        handed_over = [subs[handed].get_nowait() for _ in stored]
        assert [e.id if e else None for e in handed_over] == [e.id for e in stored]
        assert reads == []
        # Said to follow an event the subscribers never had: not handed over, read from the log.
        stored_gapped = await _committed(runtime, gapped, after=created[gapped])
        await feed.publish(stored_gapped, {gapped: created[gapped] - 1})
        assert [(await _next(subs[gapped])).id for _ in stored_gapped] == [e.id for e in stored_gapped]
        assert reads == ["_db"]

        # The handed-over job's own announcement (read by now: announced before this one) reads nothing.
        await runtime.orchestrator.cancel_job(other)
        await feed.publish(await _committed(runtime, other, after=created[other]))
        assert (await _next(subs[other])).type == "job.cancelled"
        assert reads == ["_db", "_db"]
        assert subs[handed].empty()  # and hands nothing out twice
    finally:
        await feed.close()


async def test_a_new_jobs_subscriber_reads_nothing_and_is_handed_its_first_events(
    runtime_factory, key_prefix
):
    """POST /jobs answered with the job's events subscribes before the job is stored (``new``)."""
    runtime = await runtime_factory(roles=("orchestrator",))
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    reads = _counted_reads(feed, "_reads", "_db")
    try:
        job_id = uuid.uuid4()
        sub = await feed.subscribe(job_id, new=True)
        assert reads == []  # no look-up of where the job's events stand: it has none
        await runtime.orchestrator.submit_job("Write a note", {}, 1, job_id=job_id)
        created = await _committed(runtime, job_id)
        assert [e.type for e in created] == ["job.created"]
        await feed.publish(created, {job_id: 0})  # as the intake announces a new job's events
        handed = sub.get_nowait()  # handed over at once
        assert handed is not None
        assert handed.id == created[0].id
        # The next commit (here one another process made: no ``follows``) is read from the log.
        await runtime.orchestrator.cancel_job(job_id)
        rest = await _committed(runtime, job_id, after=created[0].id)
        await feed.publish(rest)
        assert [(await _next(sub)).id for _ in rest] == [e.id for e in rest]
        assert reads == ["_db"]
    finally:
        await feed.close()


async def test_in_a_batch_a_lone_stream_is_written_after_the_batchs_write_and_a_crowd_before_it(
    runtime_factory, key_prefix
):
    """A commit's messages start its job's next step: a job that one stream here follows gets its
    events once the batch (the announcement and the messages) is at Redis; a job several streams
    follow gets them first (a crowd paces its job), as outside a batch."""
    runtime = await runtime_factory(roles=("orchestrator",))
    feed = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    outside = redis.Redis.from_url(REDIS_URL)  # what Redis holds at each hand-over, seen from outside
    step = f"{key_prefix}next-step"  # stands for the commit's message to a worker
    try:
        lone, crowded = [await runtime.orchestrator.create_job(f"Note {i}", {}, 1) for i in range(2)]
        subs = {lone: [await feed.subscribe(lone)]}
        subs[crowded] = [await feed.subscribe(crowded) for _ in range(3)]
        last = {job_id: (await _committed(runtime, job_id))[-1].id for job_id in subs}
        for job_id in subs:
            await runtime.orchestrator.cancel_job(job_id)
        stored = [e for job_id in subs for e in await _committed(runtime, job_id, after=last[job_id])]
        messages_at_hand_over: dict[uuid.UUID, list[int]] = {}
        for job_id, job_subs in subs.items():
            for sub in job_subs:

                def written(events, job_id=job_id):
                    messages_at_hand_over.setdefault(job_id, []).append(outside.xlen(step))
                    return True

                sub.direct = written

        with feed.batched():  # as outbox.announce runs a commit's two first steps
            publishing = asyncio.ensure_future(feed.publish(stored, last))
            sending = asyncio.ensure_future(feed._out.call("XADD", step, "*", "m", "1"))
            await asyncio.sleep(0)
            assert messages_at_hand_over == {crowded: [0, 0, 0]}  # the crowd: before the write
        assert messages_at_hand_over == {crowded: [0, 0, 0], lone: [1]}  # the lone stream: after it
        await asyncio.gather(publishing, sending)

        # A batch begun inside another (two committers at once) is part of it: written at its end.
        await runtime.orchestrator.submit_job("Write a note", {}, 1, job_id=(new := uuid.uuid4()))
        sub = await feed.subscribe(new)

        def counted(events):
            messages_at_hand_over.setdefault(new, []).append(len(events))
            return True

        sub.direct = counted
        await runtime.orchestrator.cancel_job(new)
        known = (await _committed(runtime, new))[0].id
        rest = await _committed(runtime, new, after=known)
        with feed.batched():
            with feed.batched():
                publishing = asyncio.ensure_future(feed.publish(rest, {new: known}))
                await asyncio.sleep(0)
            assert new not in messages_at_hand_over  # the inner batch's end writes nothing
        assert messages_at_hand_over[new] == [1]
        await publishing
    finally:
        outside.close()
        await feed.close()


def _handed(sub: Subscription) -> Event:
    """The event handed to ``sub`` already (queued: no wait)."""
    event = sub.get_nowait()
    assert event is not None
    return event


def _watchers(feed: RedisFeed, job_id) -> str:
    return f"{feed.prefix}{names.feed_watchers(job_id)}"


@contextlib.asynccontextmanager
async def _two_processes(
    runtime, key_prefix: str, sweep_s: float = 30
) -> AsyncIterator[tuple[RedisFeed, RedisFeed]]:
    """The live feeds of two API processes: ``here`` (its sweep every ``sweep_s``) and ``there``."""
    here = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=sweep_s)
    there = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=30)
    try:
        yield here, there
    finally:
        await here.close()
        await there.close()


async def test_a_process_is_told_only_of_the_commits_other_processes_make_of_jobs_it_watches(
    runtime_factory, redis_client, key_prefix
):
    runtime = await runtime_factory(roles=("orchestrator",))
    async with _two_processes(runtime, key_prefix) as (here, there):
        reads = _counted_reads(here, "_db")
        own, theirs, unwatched = [await runtime.orchestrator.create_job(f"Note {i}", {}, 1) for i in range(3)]
        subs = {job_id: await here.subscribe(job_id) for job_id in (own, theirs)}
        created = {job_id: (await _committed(runtime, job_id))[0].id for job_id in (own, theirs, unwatched)}
        assert await redis_client.zscore(_watchers(here, own), here.id) is not None  # registered
        for job_id in (own, theirs, unwatched):
            await runtime.orchestrator.cancel_job(job_id)

        # Its own commit, handed over: nothing in its inbox, nothing read.
        await here.publish(await _committed(runtime, own, after=created[own]), {own: created[own]})
        assert _handed(subs[own]).type == "job.cancelled"
        # Another process's commits: one wake-up for the watched job, none for the other.
        await there.publish(await _committed(runtime, theirs, after=created[theirs]))
        await there.publish(await _committed(runtime, unwatched, after=created[unwatched]))
        assert (await _next(subs[theirs])).type == "job.cancelled"  # read from the log
        assert reads == ["_db"]
        assert await redis_client.xlen(here._inbox) == 1
        assert await redis_client.exists(there._inbox) == 0  # told of nothing: it watches nothing

        # A new job's watch is registered with its first announcement, then told of the rest.
        job_id = uuid.uuid4()
        sub = await here.subscribe(job_id, new=True)
        assert await redis_client.zscore(_watchers(here, job_id), here.id) is None
        await runtime.orchestrator.submit_job("Write a note", {}, 1, job_id=job_id)
        first = await _committed(runtime, job_id)
        await here.publish(first, {job_id: 0})
        assert await redis_client.zscore(_watchers(here, job_id), here.id) is not None
        assert _handed(sub).id == first[0].id
        await runtime.orchestrator.cancel_job(job_id)
        await there.publish(await _committed(runtime, job_id, after=first[0].id))
        assert (await _next(sub)).type == "job.cancelled"
        assert await redis_client.xlen(here._inbox) == 2


async def test_a_watch_ends_with_its_last_subscriber_lapses_with_its_process_and_goes_on_close(
    runtime_factory, redis_client, key_prefix
):
    runtime = await runtime_factory(roles=("orchestrator",))
    async with _two_processes(runtime, key_prefix) as (here, there):
        left, kept = [await runtime.orchestrator.create_job(f"Note {i}", {}, 1) for i in range(2)]
        subs = [await here.subscribe(left) for _ in range(2)]
        await here.subscribe(kept)
        here.unsubscribe(subs[0])
        await here.subscribe(kept)  # (any later round trip takes the ended watches out with it)
        assert await redis_client.zscore(_watchers(here, left), here.id) is not None  # one is left
        here.unsubscribe(subs[1])
        await here.publish(await _committed(runtime, kept))
        assert await redis_client.zscore(_watchers(here, left), here.id) is None
        await there.publish(await _committed(runtime, left))
        assert await redis_client.exists(here._inbox) == 0

        # A process that died without closing: its watch lapses, and the next announcement drops it.
        await redis_client.zadd(_watchers(here, left), {"gone": 1})  # lapsed at 1 ms after the epoch
        await there.publish(await _committed(runtime, left))
        assert await redis_client.zscore(_watchers(here, left), "gone") is None
        assert await redis_client.exists(f"{key_prefix}{names.feed_inbox('gone')}") == 0

        await here.close()
        assert await redis_client.zscore(_watchers(here, kept), here.id) is None


async def test_watches_lost_in_redis_are_registered_again_and_read_by_the_sweep(
    runtime_factory, redis_client, key_prefix
):
    runtime = await runtime_factory(roles=("orchestrator",))
    async with _two_processes(runtime, key_prefix, sweep_s=0.5) as (here, there):
        job_id = await runtime.orchestrator.create_job("Write a note", {}, 1)
        sub = await here.subscribe(job_id)
        await redis_client.delete(_watchers(here, job_id))  # as a FLUSHALL or a restart would
        await runtime.orchestrator.cancel_job(job_id)
        await there.publish(await _committed(runtime, job_id, after=1))
        assert (await _next(sub)).type == "job.cancelled"  # read by the sweep
        assert await redis_client.exists(here._inbox) == 0  # (not told: the watch was gone)
        assert await redis_client.zscore(_watchers(here, job_id), here.id) is not None


async def test_a_registration_redis_refuses_leaves_the_reader_running_and_is_made_later(
    runtime_factory, redis_client, key_prefix, caplog
):
    runtime = await runtime_factory(roles=("orchestrator",))
    here = RedisFeed(REDIS_URL, runtime.engine, prefix=key_prefix, sweep_s=0.5)
    try:
        job_id = await runtime.orchestrator.create_job("Write a note", {}, 1)
        await redis_client.set(_watchers(here, job_id), "not a sorted set")  # every ZADD is refused
        sub = await here.subscribe(job_id)
        assert "could not register watched jobs" in caplog.text
        await runtime.orchestrator.cancel_job(job_id)
        assert (await _next(sub)).type == "job.cancelled"  # read by the sweep all the same
        await redis_client.delete(_watchers(here, job_id))
        for _ in range(200):  # registered again by a later sweep (one every 0.5 s)
            if await redis_client.zscore(_watchers(here, job_id), here.id) is not None:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no sweep registered the watch again within 10 s")
        assert here._reader is not None
        assert not here._reader.done()
    finally:
        await here.close()
