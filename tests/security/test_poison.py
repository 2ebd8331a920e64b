"""Finding 1 (poison): one outbox row that cannot be decoded used to stop the relay for good (every
later job stayed pending) and made every restart fail. Now such a row is dead-lettered with its
reason, the job it names fails with that reason, everything else flows on, and start-up is clean.

Replayed against a real `planwright up` (embedded: the relay publishes leftover rows at start) and
the distributed stack (the relay's sweep, the dead-letter stream in Redis)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from planwright.core import names
from planwright.core.db.engine import make_engine
from planwright.core.db.schema import outbox
from planwright.core.events import utcnow
from tests.distributed.conftest import database_url, make_stack  # noqa: F401 (the stack's fixtures)
from tests.distributed.stack import Stack
from tests.e2e.support import planwright_up

NESTED = "[" * 5000 + "]" * 5000


def poison_rows(job_id: uuid.UUID) -> list[dict[str, Any]]:
    """A row that is not JSON, and the job's job.created nested past any decoder's depth."""
    old = utcnow() - timedelta(minutes=1)  # past the relay's grace period: its sweep takes them
    deep = f'{{"job_id":"{job_id}","trace":{{}},"type":"job.created","goal":"x","context":{{"a":{NESTED}}}}}'
    return [
        {"stream": names.JOBS, "payload": "this is not json", "created_at": old},
        {"stream": names.JOBS, "payload": deep, "created_at": old},
    ]


def insert(db_url: str, rows: list[dict[str, Any]]) -> None:
    async def run() -> None:
        engine = make_engine(db_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(outbox.insert(), rows)
        finally:
            await engine.dispose()

    asyncio.run(run())


def outbox_rows(db_url: str) -> int:
    async def run() -> int:
        engine = make_engine(db_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar() or 0)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def run_job(base: str, goal: str = "Summarize the release notes") -> dict[str, Any]:
    resp = httpx.post(f"{base}/jobs", json={"goal": goal}, timeout=30)
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    httpx.get(f"{base}/jobs/{job_id}/events", timeout=120)  # the stream ends with the job
    job: dict[str, Any] = httpx.get(f"{base}/jobs/{job_id}", timeout=30).json()
    return job


def dead_lettered(metrics: str, stream: str) -> float:
    found = re.search(rf'planwright_messages_dead_lettered_total\{{stream="{stream}"\}} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


@pytest.mark.e2e
def test_embedded_poison_rows_are_dead_lettered_at_start_and_jobs_flow(tmp_path: Path) -> None:
    env = {"PLANWRIGHT_UI_DIR": str(tmp_path / "no-ui")}
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'planwright.db'}"
    with planwright_up(tmp_path, **env) as base:  # creates and migrates the database
        assert run_job(base)["status"] == "succeeded"
    insert(db_url, poison_rows(uuid.uuid4()))
    # Before: `relay.flush()` at start raised, and the process exited (Application startup failed).
    with planwright_up(tmp_path, **env) as base:
        assert outbox_rows(db_url) == 0
        assert dead_lettered(httpx.get(f"{base}/metrics").text, names.JOBS) == 2
        for _ in range(3):
            assert run_job(base)["status"] == "succeeded"
    log = (tmp_path / "server.log").read_text()
    assert "dead-lettered pw:jobs outbox:" in log
    assert "undecodable message" in log
    assert "recursion limit" in log  # the deep one's reason, as the decoder gave it
    with planwright_up(tmp_path, **env) as base:  # and the next start has nothing left to trip on
        assert run_job(base)["status"] == "succeeded"


@pytest.mark.distributed
@pytest.mark.timeout(240)
def test_distributed_poison_rows_fail_their_job_and_the_rest_flows(make_stack: Any) -> None:  # noqa: F811
    stack: Stack = make_stack()
    stack.start_api()  # no planner yet: a job stays pending, as behind a stuck relay
    victim = stack.submit("Summarize the notes")
    insert(stack.env["DATABASE_URL"], poison_rows(uuid.UUID(victim)))

    # The sweep moves both rows aside and fails the job the deep one names, with the reason.
    deadline = time.monotonic() + 120
    while (job := httpx.get(f"{stack.api}/jobs/{victim}", timeout=10).json())["status"] != "failed":
        assert time.monotonic() < deadline, f"the victim job is still {job['status']}"
        time.sleep(0.1)
    assert "undecodable message" in job["error"]
    assert "dead-lettered" in job["error"]
    assert outbox_rows(stack.env["DATABASE_URL"]) == 0
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        entries = client.xrange(stack.prefix + names.DEAD_LETTER)
    fields = [{k.decode(): v for k, v in e.items()} for _, e in entries]
    assert sorted(f["m"][:4] for f in fields) == [b"this", b'{"jo']
    assert all(f["group"] == b"outbox" and b"undecodable message" in f["reason"] for f in fields)

    # The rest flows: the services come up and new jobs run.
    for role in ("planner", "critic", "policy"):
        stack.start(role)
    stack.start("worker1")
    jobs = [stack.submit(f"Summarize the notes, part {i}") for i in range(5)]
    assert {j["status"] for j in stack.wait_all(jobs).values()} == {"succeeded"}

    # A restart with a poison row waiting starts cleanly and sweeps it at start.
    stack.signal("api", 15)
    insert(stack.env["DATABASE_URL"], poison_rows(uuid.uuid4()))
    stack.start_api()
    assert outbox_rows(stack.env["DATABASE_URL"]) == 0
    assert {j["status"] for j in stack.wait_all([stack.submit("Summarize it again")]).values()} == {
        "succeeded"
    }
    assert "Application startup failed" not in stack.log("api")
