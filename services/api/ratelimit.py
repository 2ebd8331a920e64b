"""Request rate limits per API key (or client address): GCRA, in memory or shared through Redis.

The generic cell rate algorithm keeps one number per subject, the theoretical arrival time (TAT) of
its next request: a request is let through when TAT - burst tolerance <= now, and moves TAT on by one
emission interval (1 / rate). That is a token bucket of ``burst`` requests refilled at ``rate`` per
second, stored as a single timestamp. API replicas in distributed mode share the TATs in Redis (one
script call per limited request, timed by the Redis server's clock so replicas' clocks do not matter).
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from planwright.core import outage

# KEYS[1]: the subject's TAT; ARGV: emission interval and burst tolerance, in microseconds.
# Returns 0 when allowed, else the microseconds to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat + interval - tolerance
if allow_at > now then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""


class Limiter(Protocol):
    async def check(self, subject: str, rate: float) -> float:
        """0 when a request of ``subject`` at ``rate`` per second may go now, else seconds to wait."""


def _params(rate: float) -> tuple[float, float]:
    interval = 1.0 / rate
    return interval, interval * 2 * max(rate, 1.0)  # burst: two seconds' worth, at least 2


class MemoryLimiter:
    """One process's limits (embedded mode). Old subjects are dropped as the table grows."""

    def __init__(self, max_subjects: int = 100_000) -> None:
        self._tat: dict[str, float] = {}
        self._max = max_subjects

    async def check(self, subject: str, rate: float) -> float:
        now = time.monotonic()
        interval, tolerance = _params(rate)
        tat = max(self._tat.get(subject, now), now)
        if (wait := tat + interval - tolerance - now) > 0:
            return wait
        if len(self._tat) >= self._max:
            self._tat = {s: t for s, t in self._tat.items() if t > now}
        self._tat[subject] = tat + interval
        return 0.0


class RedisLimiter:
    """Limits shared by every API replica through Redis (distributed mode). While Redis cannot be
    reached each replica limits on its own (a MemoryLimiter), so a Redis outage neither stops the API
    nor lifts the limits; it is logged when it starts and when it ends."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self._script = redis.register_script(_GCRA)
        self._prefix = f"{prefix}pw:rate:"
        self._local = MemoryLimiter()
        self._outage = outage.Outage("rate limiter", "limiting in this process alone until it answers")

    async def check(self, subject: str, rate: float) -> float:
        interval, tolerance = _params(rate)
        try:
            wait = await self._script(
                keys=[self._prefix + subject], args=[math.ceil(interval * 1e6), math.ceil(tolerance * 1e6)]
            )
        except Exception as exc:
            if not outage.unavailable(exc):
                raise
            self._outage.failed(exc)
            return await self._local.check(subject, rate)
        self._outage.recovered()
        return int(wait) / 1e6
