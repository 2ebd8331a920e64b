"""The floor: what the storage and the bus cost at the least on this machine, measured in the same run.

redis_ping_ms: one PING round trip. stream_2hop_ms: XADD to stream A, an echo consumer reads it with
XREADGROUP BLOCK and XADDs it to stream B, the first reads it back with XREADGROUP BLOCK (what one
dependent hop costs at the least in distributed mode). pg_commit_ms: INSERT one row into a logged
table + COMMIT (asyncpg), the WAL flushed as for every write of the Orchestrator.
sqlite_commit_ms: INSERT one row + COMMIT, WAL, synchronous=NORMAL. python_ms: a fixed piece of pure
Python work (dicts, JSON, string formatting), how fast this machine runs the interpreter at that
moment: the same checkout's figures move with it (a VM's speed varied 2-3x between sessions and within
one), so runs on different days compare through it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import redis
import redis.asyncio as aredis

from bench.config import REDIS_URL
from bench.util import median, ms, run

PINGS = 1000
ROUNDS = 200


def redis_ping_ms() -> float:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for _ in range(20):
            client.ping()
        times = []
        for _ in range(PINGS):
            started = time.perf_counter()
            client.ping()
            times.append(time.perf_counter() - started)
        return ms(median(times))
    finally:
        client.close()


async def _echo(client: aredis.Redis, src: str, dst: str, stop: asyncio.Event) -> None:
    # Stops on a flag: cancelling a blocked XREADGROUP of redis.asyncio can hang.
    while not stop.is_set():
        got: Any = await client.xreadgroup("echo", "e1", {src: ">"}, count=1, block=100)
        for _, messages in got or []:
            for message_id, fields in messages:
                await client.xadd(dst, fields)
                await client.xack(src, "echo", message_id)


async def _stream_2hop(prefix: str) -> float:
    a, b = f"{prefix}floor:a", f"{prefix}floor:b"
    sender, echoer = aredis.Redis.from_url(REDIS_URL), aredis.Redis.from_url(REDIS_URL)
    await sender.xgroup_create(a, "echo", id="$", mkstream=True)
    await sender.xgroup_create(b, "back", id="$", mkstream=True)
    stop = asyncio.Event()
    echo = asyncio.create_task(_echo(echoer, a, b, stop))
    times = []
    try:
        for i in range(ROUNDS + 10):
            started = time.perf_counter()
            await sender.xadd(a, {"n": str(i)})
            got: Any = await sender.xreadgroup("back", "s1", {b: ">"}, count=1, block=5000)
            elapsed = time.perf_counter() - started
            if not got:
                raise RuntimeError("the echo consumer did not answer within 5s")
            await sender.xack(b, "back", got[0][1][0][0])
            if i >= 10:  # after a warm-up
                times.append(elapsed)
    finally:
        stop.set()
        await echo
        await sender.delete(a, b)
        await sender.aclose()
        await echoer.aclose()
    return ms(median(times))


def stream_2hop_ms(prefix: str) -> float:
    return run(_stream_2hop(prefix))


async def _pg_commit(database_url: str) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        # A logged table, as the Orchestrator writes: a commit that wrote only a temporary table has
        # no WAL to flush, and took 0.05 ms instead of 0.26 in some runs.
        await conn.execute("CREATE TABLE floor_commit (id serial PRIMARY KEY, v text)")
        times = []
        for i in range(ROUNDS + 10):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("INSERT INTO floor_commit (v) VALUES ($1)", str(i))
            if i >= 10:
                times.append(time.perf_counter() - started)
        return ms(median(times))
    finally:
        try:
            await conn.execute("DROP TABLE IF EXISTS floor_commit")
        finally:
            await conn.close()


def pg_commit_ms(database_url: str) -> float:
    return run(_pg_commit(database_url))


def sqlite_commit_ms() -> float:
    with tempfile.TemporaryDirectory(prefix="pwbench-sqlite-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db")
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE floor_commit (id INTEGER PRIMARY KEY, v TEXT)")
            conn.commit()
            times = []
            for i in range(ROUNDS + 10):
                started = time.perf_counter()
                conn.execute("INSERT INTO floor_commit (v) VALUES (?)", (str(i),))
                conn.commit()
                if i >= 10:
                    times.append(time.perf_counter() - started)
            return ms(median(times))
        finally:
            conn.close()


def python_ms(rounds: int = 30) -> float:
    """Median time of one round of fixed interpreter work: 1,000 event-like dicts built, encoded to
    JSON, decoded and formatted (11.4-15.4 ms a round on the machine of 2026-12-07's fifteenth round)."""
    times = []
    for _ in range(rounds + 3):
        started = time.perf_counter()
        lines = []
        for i in range(1000):
            event = {"id": i, "type": "task.succeeded", "data": {"task": f"t{i}", "attempt": 1, "ok": True}}
            decoded = json.loads(json.dumps(event))
            lines.append(f"{decoded['id']}:{decoded['type']}:{decoded['data']['task']}")
        times.append(time.perf_counter() - started)
    return ms(median(times[3:]))  # after a warm-up


def measure(prefix: str | None, database_url: str | None) -> dict[str, float | None]:
    """Every floor figure; the Redis and Postgres ones are None when there is no Redis or database."""
    return {
        "floor_python_ms": python_ms(),
        "floor_sqlite_commit_ms": sqlite_commit_ms(),
        "floor_redis_ping_ms": redis_ping_ms() if prefix is not None else None,
        "floor_stream_2hop_ms": stream_2hop_ms(prefix) if prefix is not None else None,
        "floor_pg_commit_ms": pg_commit_ms(database_url) if database_url else None,
    }
