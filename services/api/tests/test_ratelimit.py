"""Rate limits: a key's budget is shared by every API replica through Redis; an open API limits
client addresses, but not its own machine's."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from planwright.services.api.app import create_app
from planwright.services.api.ratelimit import MemoryLimiter, RedisLimiter
from tests import isolation

REDIS_URL = isolation.REDIS_URL
# 0.01 per second: a burst of two, then the next request would wait 100 s; no test runs that long.
SLOW = 0.01


async def test_replicas_share_one_budget_through_redis(redis_client: Redis, key_prefix: str) -> None:
    first, second = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)  # two processes' clients
    try:
        one, other = RedisLimiter(first, key_prefix), RedisLimiter(second, key_prefix)
        assert await one.check("key:a", SLOW) == 0
        assert await other.check("key:a", SLOW) == 0
        wait = await one.check("key:a", SLOW)
        assert 90 < wait <= 100, wait
        assert await other.check("key:a", SLOW) > 90  # the other replica saw the same budget used up
        assert await other.check("key:b", SLOW) == 0  # another key has its own
    finally:
        await first.aclose()
        await second.aclose()


async def test_one_process_limits_in_memory() -> None:
    limiter = MemoryLimiter()
    assert [await limiter.check("key:a", SLOW) == 0 for _ in range(3)] == [True, True, False]
    assert await limiter.check("key:b", SLOW) == 0


async def test_while_redis_is_away_each_replica_limits_on_its_own(caplog) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens there: every call is refused
    try:
        limiter = RedisLimiter(down, "pw:")
        # Not an error (the API stays up), and not unlimited either: the process's own budget applies.
        assert [await limiter.check("key:a", SLOW) == 0 for _ in range(3)] == [True, True, False]
    finally:
        await down.aclose()
    outage_lines = [
        r.getMessage() for r in caplog.records if "rate limiter: redis unavailable" in r.getMessage()
    ]
    assert len(outage_lines) == 1, caplog.text  # said once, not once per request


@pytest.mark.parametrize(
    ("address", "limited"), [("203.0.113.9", True), ("127.0.0.1", False), ("::1", False)]
)
async def test_an_open_api_limits_client_addresses_but_not_loopback(
    runtime_factory, address: str, limited: bool
) -> None:
    runtime = await runtime_factory(rate_limit_read_per_s=SLOW)
    transport = httpx.ASGITransport(app=create_app(runtime), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        codes = [(await client.get("/jobs")).status_code for _ in range(4)]
    if limited:
        assert codes == [200, 200, 429, 429]
    else:
        assert codes == [200] * 4
