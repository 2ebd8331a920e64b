from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from planwright.core import names
from planwright.core.db.tests.support import postgres_database
from tests import isolation
from tests.distributed.stack import Stack

# The tests' Redis (PLANWRIGHT_TEST_REDIS_URL); each stack keeps to a key prefix of its own.
SHARED_REDIS = isolation.REDIS_URL

pytestmark = pytest.mark.distributed


def _reachable() -> None:
    try:
        with redis.Redis.from_url(SHARED_REDIS) as client:
            client.ping()
        with postgres_database():
            pass
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Postgres or Redis is not reachable: {exc}")


@pytest.fixture
def database_url() -> Iterator[str]:
    _reachable()
    with postgres_database() as url:
        yield url


@pytest.fixture
def make_stack(tmp_path: Path, database_url: str) -> Iterator[object]:
    stacks: list[Stack] = []

    def make(redis_url: str = SHARED_REDIS, **env: object) -> Stack:
        stack = Stack(tmp_path, database_url, redis_url, **env)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()
        try:
            with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
                keys = list(client.scan_iter(match=f"{stack.prefix}*"))
                if keys:
                    client.delete(*keys)
        except redis.RedisError:
            pass


def pending_total(stack: Stack) -> int:
    """Entries delivered but not acked, over every stream and group of the stack."""
    streams = [names.JOBS, names.ORCHESTRATOR, names.READY, names.REVIEW, *names.DISPATCH_LANES]
    total = 0
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        for stream in streams:
            key = stack.prefix + stream
            if client.exists(key):
                total += sum(int(group["pending"]) for group in client.xinfo_groups(key))
    return total
