"""CPU of the shared servers in distributed mode: the Postgres backends of the bench's database and
redis-server (which others may use too, so that share is noisy)."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
import redis

from bench.config import REDIS_URL
from bench.procstat import CpuSample, cpu_sample, cpu_seconds


async def _backend_pids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


def _redis_pid() -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


class InfraMeter:
    """CPU seconds of Postgres backends (those alive at the end; new ones counted from birth) and Redis."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._start: dict[int, CpuSample] = {}
        self._redis_pid = 0
        self._redis: CpuSample | None = None

    async def start(self) -> InfraMeter:
        self._start = {pid: cpu_sample(pid) for pid in await _backend_pids(self.database_url)}
        self._redis_pid = _redis_pid()
        self._redis = cpu_sample(self._redis_pid)
        return self

    async def stop(self) -> dict[str, float]:
        zero = CpuSample(0.0, 0.0)
        pids = await _backend_pids(self.database_url)
        postgres = sum(cpu_seconds(self._start.get(pid, zero), cpu_sample(pid)) for pid in pids)
        redis_s = cpu_seconds(self._redis or zero, cpu_sample(self._redis_pid))
        return {"postgres": postgres, "redis": redis_s}
