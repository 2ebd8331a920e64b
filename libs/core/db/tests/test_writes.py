"""Rows written straight to the driver (sqlite3, asyncpg) are stored exactly as SQLAlchemy Core
stores them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa

from planwright.core.db import writes
from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import upgrade_head
from planwright.core.db.schema import events, jobs, llm_spend, outbox, tasks
from planwright.core.db.tests.support import postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
async def engine(database_url):
    await asyncio.to_thread(upgrade_head, database_url)  # alembic runs its own event loop
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


def job_row(**overrides):
    now = datetime(2026, 11, 26, 14, 30, 1, 123456, tzinfo=UTC)
    return {
        "id": uuid.uuid4(),
        "goal": "Write a note",
        "context_json": {"nested": {"a": [1, 2.5, None, "é"]}},
        "priority": 3,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
        "trace_id": None,
        "trace_parent": None,
    } | overrides


def task_row(job_id, **overrides):
    now = datetime(2026, 11, 26, 14, 30, 2, 5, tzinfo=UTC)
    return {
        "id": uuid.uuid4(),
        "job_id": job_id,
        "plan_version": 1,
        "position": 0,
        "key": "write_note",
        "title": "Write",
        "description": "",
        "tool": "text_generate",
        "args": {"prompt": "x"},
        "depends_on": [],
        "critic_required": True,
        "status": "pending",
        "attempt": 1,
        "first_attempt": 1,
        "reworks": 0,
        "output": None,
        "error": None,
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "finished_at": None,
    } | overrides


async def stored(engine, table, ids):
    """The rows as the database holds them, each column cast to text (so a JSON 'null' is not taken
    for SQL NULL), id column dropped."""
    columns = [c for c in table.c if c.name != "id"]
    query = sa.select(*(sa.cast(c, sa.Text) for c in columns)).where(table.c.id == sa.bindparam("i"))
    async with engine.connect() as conn:
        return [tuple((await conn.execute(query, {"i": i})).one()) for i in ids]


async def test_inserts_and_updates_store_what_core_stores(engine):
    core_job, fast_job = job_row(), job_row()
    async with engine.begin() as conn:
        await conn.execute(sa.insert(jobs), [core_job])  # also opens the transaction on the driver
        await writes.insert_rows(conn, jobs, [fast_job])
        core_task, fast_task = task_row(core_job["id"]), task_row(fast_job["id"])
        await conn.execute(sa.insert(tasks), [core_task])
        await writes.insert_rows(conn, tasks, [fast_task])
    assert await stored(engine, jobs, [core_job["id"]]) == await stored(engine, jobs, [fast_job["id"]])
    core, fast = await stored(engine, tasks, [core_task["id"], fast_task["id"]])
    assert core[1:] == fast[1:]  # all but the job id

    change = {
        "status": "succeeded",
        "output": {"text": "done"},
        "error": None,
        "finished_at": datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
    }
    async with engine.begin() as conn:
        await conn.execute(sa.update(tasks).where(tasks.c.id == core_task["id"]), change)
        await writes.update_rows(conn, tasks, [{"id": fast_task["id"], **change}])
    core, fast = await stored(engine, tasks, [core_task["id"], fast_task["id"]])
    assert core[1:] == fast[1:]
    async with engine.connect() as conn:
        back = (await conn.execute(sa.select(tasks).where(tasks.c.id == fast_task["id"]))).one()
    assert (back.output, back.critic_required, back.finished_at.replace(tzinfo=UTC)) == (
        {"text": "done"},
        True,
        change["finished_at"],
    )


async def test_returned_ids_follow_the_rows_across_statements(engine, monkeypatch):
    monkeypatch.setattr(writes, "_MAX_VALUES", 10)  # two rows per statement: several statements
    job = job_row()
    rows = [
        {
            "job_id": job["id"],
            "type": "task.progress",
            "task_id": None,
            "data": {"n": n},
            "created_at": job["created_at"],
        }
        for n in range(7)
    ]
    async with engine.begin() as conn:
        await writes.insert_rows(conn, jobs, [job])
        ids = await writes.insert_returning_ids(conn, events, rows)
        assert await writes.raw_connection(conn) is not None  # the driver took them, not Core
    assert ids == sorted(ids)
    assert len(set(ids)) == 7
    async with engine.connect() as conn:
        found = dict((await conn.execute(sa.select(events.c.id, events.c.data))).all())
    assert [found[i] for i in ids] == [{"n": n} for n in range(7)]


async def test_each_row_keeps_its_own_time_and_id_when_values_alternate(engine):
    # The converters remember their last value (rows of a batch share one timestamp): a value that
    # differs from the one before, or comes back after another, is converted again.
    first, second = (datetime(2026, 11, 26, 14, 30, s, tzinfo=UTC) for s in (1, 2))
    a, b = job_row(created_at=first), job_row(created_at=second)
    rows = [
        {"job_id": job["id"], "type": "job.created", "task_id": None, "data": {}, "created_at": when}
        for job, when in ((a, first), (b, second), (a, first), (a, second))
    ]
    async with engine.begin() as conn:
        await writes.insert_rows(conn, jobs, [a, b])
        ids = await writes.insert_returning_ids(conn, events, rows)
    async with engine.connect() as conn:
        got = {
            r.id: (r.job_id, r.created_at.replace(tzinfo=UTC))
            for r in await conn.execute(sa.select(events.c.id, events.c.job_id, events.c.created_at))
        }
    assert [got[i] for i in ids] == [(r["job_id"], r["created_at"]) for r in rows]
    async with engine.connect() as conn:
        created = dict((await conn.execute(sa.select(jobs.c.id, jobs.c.created_at))).all())
    assert {k: v.replace(tzinfo=UTC) for k, v in created.items()} == {a["id"]: first, b["id"]: second}


@pytest.fixture
def pg_url():
    with postgres_database() as url:  # creates and drops it with a loop of its own: a plain fixture
        yield url


@pytest.fixture
async def pg_engine(pg_url):
    await asyncio.to_thread(upgrade_head, pg_url)
    engine = make_engine(pg_url)
    yield engine
    await engine.dispose()


def event_row(job_id, n):
    return {"job_id": job_id, "type": "job.created", "task_id": None, "data": {"n": n}, "created_at": NOW}


NOW = datetime(2026, 11, 26, 14, 30, 1, 123456, tzinfo=UTC)


async def test_rows_of_several_tables_go_in_one_statement(pg_engine):
    a, b = job_row(), job_row()
    parts = [
        (jobs, [a, b], False),
        (events, [event_row(a["id"], 1), event_row(b["id"], 2), event_row(a["id"], 3)], True),
    ]
    async with pg_engine.connect() as conn:
        written = await writes.write_together(conn, parts, own_statement=True)  # no transaction: it commits
        assert written is not None
        job_ids, event_ids = written
    assert job_ids == []  # not asked for
    async with pg_engine.connect() as conn:  # another connection sees all of it
        found = dict((await conn.execute(sa.select(events.c.id, events.c.data))).all())
        stored_jobs = set((await conn.execute(sa.select(jobs.c.id))).scalars())
    assert [found[i] for i in event_ids] == [{"n": 1}, {"n": 2}, {"n": 3}]  # ids in row order
    assert stored_jobs == {a["id"], b["id"]}
    core, fast = job_row(), job_row()
    async with pg_engine.begin() as conn:
        await conn.execute(sa.insert(jobs), [core])
    async with pg_engine.connect() as conn:
        assert await writes.write_together(conn, [(jobs, [fast], False)], own_statement=True) == [[]]
    assert await stored(pg_engine, jobs, [core["id"]]) == await stored(pg_engine, jobs, [fast["id"]])


async def test_values_json_cannot_carry_exactly_are_written_one_by_one(pg_engine):
    """Each part's rows go as one JSON document; a float that is not finite (JSON has no NaN) or an
    integer beyond 64 bits cannot, so write_together declines and the caller writes them through
    Core, which stores them exactly. Everything else is stored as Core stores it."""
    for odd in ({"cost_usd": float("nan")}, {"cost_usd": float("inf")}, {"context_json": {"n": 2**70}}):
        async with pg_engine.connect() as conn:
            assert (
                await writes.write_together(conn, [(jobs, [job_row(**odd)], False)], own_statement=True)
                is None
            )
    async with pg_engine.connect() as conn:  # a UUID read back from the database (asyncpg's own type)
        (read_back,) = (await conn.execute(sa.text("SELECT gen_random_uuid()"))).one()
        assert type(read_back) is not uuid.UUID
        assert await writes.write_together(conn, [(jobs, [job_row(id=read_back)], False)], own_statement=True)
    core, fast = job_row(cost_usd=0.1 + 0.2, context_json=None, goal='"é" \\ \n 😀'), job_row()
    fast = {**core, "id": fast["id"]}
    async with pg_engine.begin() as conn:
        await conn.execute(sa.insert(jobs), [core])
    async with pg_engine.connect() as conn:
        assert await writes.write_together(conn, [(jobs, [fast], False)], own_statement=True) == [[]]
    stored_core, stored_fast = await stored(pg_engine, jobs, [core["id"], fast["id"]])
    assert stored_core == stored_fast  # the float to the last bit, the JSON null, the text
    columns = [c.name for c in jobs.c if c.name != "id"]
    assert float(stored_fast[columns.index("cost_usd")]) == 0.1 + 0.2
    assert stored_fast[columns.index("context_json")] == "null"


async def test_text_columns_travel_as_arrays_and_are_stored_as_core_stores_them(pg_engine, monkeypatch):
    """A part's text columns (a goal, an outbox row's message) go as array parameters beside its JSON
    document, not as escaped strings inside it; every row is still stored as Core stores it, in its
    order, NULLs and awkward text included, in inserts and in updates alike."""
    awkward = ['"quoted" \\ back\nslash', "😀 é \t tab", "x" * 100_000, json.dumps({"goal": 'a "b"'})]
    core_jobs = [job_row(goal=text) for text in awkward]
    fast_jobs = [{**row, "id": uuid.uuid4()} for row in core_jobs]
    messages = [{"stream": f"s{n}", "payload": text, "created_at": NOW} for n, text in enumerate(awkward)]
    sent: list[tuple[Any, ...]] = []
    fetch = asyncpg.Connection.fetch

    async def spied(self: Any, sql: str, *args: Any) -> Any:
        sent.append(args)
        return await fetch(self, sql, *args)

    monkeypatch.setattr(asyncpg.Connection, "fetch", spied)
    async with pg_engine.begin() as conn:
        await conn.execute(sa.insert(jobs), core_jobs)
        await conn.execute(sa.insert(outbox), messages)
    async with pg_engine.connect() as conn:
        written = await writes.write_together(
            conn, [(jobs, fast_jobs, False), (outbox, messages, True)], own_statement=True
        )
    assert written is not None
    (args,) = sent
    assert args[1] == awkward  # the goals: an array of text
    assert args[3] == awkward  # the messages
    assert all(text not in args[0] and text not in args[2] for text in awkward[2:])  # not in the JSON
    for core, fast in zip(core_jobs, fast_jobs, strict=True):
        assert await stored(pg_engine, jobs, [core["id"]]) == await stored(pg_engine, jobs, [fast["id"]])
    async with pg_engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id))).all()
    assert [payload for _, payload in rows] == awkward * 2
    assert [i for i, _ in rows[len(awkward) :]] == written[1]  # ids in row order
    # An update's text column: a value, NULL, and back.
    for error in ('it failed: "why"', None):
        async with pg_engine.connect() as conn:
            changes = [(jobs, [{"id": fast_jobs[0]["id"], "error": error, "version": 1}], "id")]
            assert await writes.write_together(conn, [], changes, own_statement=True) == []
            found = (
                await conn.execute(sa.select(jobs.c.error).where(jobs.c.id == fast_jobs[0]["id"]))
            ).scalar()
        assert found == error
    # Something other than text in a text column: written one by one instead, as Core writes it.
    async with pg_engine.connect() as conn:
        assert (
            await writes.write_together(conn, [(jobs, [job_row(goal=5)], False)], own_statement=True) is None
        )


async def test_one_statement_is_all_or_nothing(pg_engine):
    good = job_row()
    orphan = event_row(uuid.uuid4(), 1)  # no such job: the foreign key fails the statement
    async with pg_engine.connect() as conn:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await writes.write_together(
                conn, [(jobs, [good], False), (events, [orphan], True)], own_statement=True
            )
    async with pg_engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(jobs))).scalar() == 0


async def test_sqlite_has_no_insert_in_a_with(engine, database_url):
    async with engine.connect() as conn:
        written = await writes.write_together(conn, [(jobs, [job_row()], False)], own_statement=True)
    assert (written is not None) == database_url.startswith("postgresql")


async def test_a_transactions_updates_and_inserts_go_in_one_statement(pg_engine):
    job = job_row()
    task = task_row(job["id"])
    async with pg_engine.begin() as conn:
        await conn.execute(sa.insert(jobs), [job])
        await conn.execute(sa.insert(tasks), [task])
    change = {"status": "succeeded", "output": {"text": "done"}, "error": None, "finished_at": NOW}
    new_task = task_row(job["id"], key="second", position=1)
    async with pg_engine.begin() as conn:
        assert await writes.write_together(conn, [(events, [event_row(job["id"], 1)], True)], []) is None
        await conn.execute(sa.select(1))  # the transaction is open on the driver from here on
        written = await writes.write_together(
            conn,
            [(tasks, [new_task], False), (events, [event_row(job["id"], 2), event_row(job["id"], 3)], True)],
            [
                (jobs, [{"id": job["id"], "status": "running", "version": 7}], "id"),
                (tasks, [{"id": task["id"], **change}], "id"),
            ],
        )
    assert written is not None
    assert written[0] == []  # not asked for
    assert len(written[1]) == 2
    async with pg_engine.connect() as conn:
        stored_job = (await conn.execute(sa.select(jobs.c.status, jobs.c.version))).one()
        stored_tasks = dict((await conn.execute(sa.select(tasks.c.key, tasks.c.output))).all())
        found = dict((await conn.execute(sa.select(events.c.id, events.c.data))).all())
    assert tuple(stored_job) == ("running", 7)
    assert stored_tasks == {"write_note": {"text": "done"}, "second": None}
    assert [found[i] for i in written[1]] == [{"n": 2}, {"n": 3}]
    # Stored exactly as the statements one by one store them
    other_job = job_row()
    other_task = task_row(other_job["id"])
    async with pg_engine.begin() as conn:
        await conn.execute(sa.insert(jobs), [other_job])
        await conn.execute(sa.insert(tasks), [other_task])
        await writes.update_rows(conn, tasks, [{"id": other_task["id"], **change}])
    core, fast = await stored(pg_engine, tasks, [other_task["id"], task["id"]])
    assert core[1:] == fast[1:]  # all but the job id


async def test_a_guarded_write_is_all_or_nothing_on_the_versions(pg_engine):
    """With a guard, the statement writes only if every guarded row still has the version it was
    computed from (new version - 1); one moved row rolls back all of it, inserts included."""
    a, b = job_row(), job_row()
    async with pg_engine.begin() as conn:
        await conn.execute(sa.insert(jobs), [a, b])
        await conn.execute(sa.update(jobs).where(jobs.c.id == b["id"]).values(version=5))

    def batch(a_version, b_version, n):
        parts = [(events, [event_row(a["id"], n), event_row(b["id"], n)], True)]
        changes = [
            (
                jobs,
                [
                    {"id": a["id"], "status": "running", "version": a_version},
                    {"id": b["id"], "status": "running", "version": b_version},
                ],
                "id",
            )
        ]
        return parts, changes

    async def state():
        async with pg_engine.connect() as conn:
            versions = dict((await conn.execute(sa.select(jobs.c.id, jobs.c.version))).all())
            data = [r for (r,) in await conn.execute(sa.select(events.c.data).order_by(events.c.id))]
        return versions[a["id"]], versions[b["id"]], data

    stale = batch(1, 5, 1)  # b is at 5, so 5 is no longer one above what the batch read
    async with pg_engine.connect() as conn:
        with pytest.raises(writes.VersionConflict, match="1 of 2 guarded job rows"):
            await writes.write_together(conn, *stale, own_statement=True, guard=(jobs, "version"))
    assert await state() == (0, 5, [])  # nothing written: not a's update, not the events

    current = batch(1, 6, 2)
    async with pg_engine.connect() as conn:
        written = await writes.write_together(conn, *current, own_statement=True, guard=(jobs, "version"))
    assert written is not None
    assert len(written[0]) == 2
    assert await state() == (1, 6, [{"n": 2}, {"n": 2}])


def spend_row(cost: float, calls: int = 1, model: str = "gpt-4o-mini") -> dict[str, object]:
    day = datetime(2026, 11, 26, tzinfo=UTC).date()
    return {
        "tenant": "acme",
        "day": day,
        "provider": "openai",
        "model": model,
        "calls": calls,
        "unpriced_calls": 0,
        "input_tokens": 10 * calls,
        "output_tokens": 5 * calls,
        "cost_usd": cost,
    }


async def test_tallies_add_to_the_row_of_their_key_from_concurrent_writers(engine):
    keys = ("tenant", "day", "provider", "model")

    async def write(rows):
        async with engine.begin() as conn:
            if await writes.write_together(conn, [], tallies=[(llm_spend, rows, keys)]) is None:
                await writes.tally_rows(conn, llm_spend, rows, keys)

    # Like several API replicas storing calls at once: every amount is kept.
    await asyncio.gather(*(write([spend_row(0.25)]) for _ in range(8)))
    await write([spend_row(1.0, calls=2), spend_row(0.5, model="gpt-4o")])
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(llm_spend).order_by(llm_spend.c.model))).all()
    assert [(r.model, r.calls, r.input_tokens, r.output_tokens, r.cost_usd) for r in rows] == [
        ("gpt-4o", 1, 10, 5, 0.5),
        ("gpt-4o-mini", 10, 100, 50, 3.0),
    ]
    assert rows[0].day == datetime(2026, 11, 26, tzinfo=UTC).date()
