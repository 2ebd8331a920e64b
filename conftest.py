"""Shared fixtures: an isolated embedded runtime per test, with its own data directory."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from planwright.core.bus.redis import RedisBus
from planwright.core.db.migrate import upgrade_head
from planwright.core.settings import Settings
from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job
from planwright.services.runtime import ROLES, Runtime
from tests.distributed.stack import RedisServer

REPO = Path(__file__).parent
DEMO_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an "
    "artifact, then summarize it."
)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "planwright_data_dir": tmp_path / "data",
        "policy_config_path": REPO / "config" / "policy.yaml",
        "retry_backoff_s": 0.01,
        "critic_demo_fault_rate": 0.0,  # the demo's deliberate first-attempt faults: off unless asked
        "planwright_ui_dir": tmp_path / "no-ui",  # API only, whether or not ui/out was built
    }
    return Settings(_env_file=None, **(base | overrides))  # type: ignore[call-arg]


RuntimeFactory = Callable[..., Awaitable[Runtime]]


@pytest.fixture
async def runtime_factory(tmp_path: Path) -> AsyncIterator[RuntimeFactory]:
    """Build and start runtimes on a fresh, migrated SQLite database; all are stopped afterwards."""
    started: list[Runtime] = []

    async def make(roles: tuple[str, ...] = ROLES, **overrides: Any) -> Runtime:
        settings = make_settings(tmp_path, **overrides)
        await asyncio.to_thread(upgrade_head, settings.db_url)
        runtime = Runtime(settings, roles)
        await runtime.start()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        await runtime.stop()


@pytest.fixture
async def runtime(runtime_factory: RuntimeFactory) -> Runtime:
    return await runtime_factory()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime)  # the runtime is started by its fixture (ASGITransport has no lifespan)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        yield c


@pytest.fixture
def demo_goal() -> str:
    return DEMO_GOAL


@pytest.fixture
def finished(client: httpx.AsyncClient) -> Callable[[str], Awaitable[dict[str, Any]]]:
    """``await finished(job_id)`` waits for the job to end and returns it."""
    return lambda job_id: wait_for_job(client, job_id)


REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def unreachable(what: str, exc: BaseException) -> None:
    """Skip a test whose server is down; under CI=true that is a failure instead."""
    if os.environ.get("CI"):
        raise exc
    pytest.skip(f"{what} is not reachable: {exc}")


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    """The shared Redis, with every key this test made under its own prefix removed afterwards."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        await client.aclose()
        unreachable(f"Redis at {REDIS_URL}", exc)
    yield client
    await client.aclose()


@pytest.fixture
def key_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; whatever it left under it is removed afterwards."""
    prefix = f"pwtest:{uuid.uuid4().hex[:10]}:"
    yield prefix
    try:
        client = SyncRedis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except (OSError, RedisError):
        pass  # nothing reachable to clean (the test said so already)


@pytest.fixture
async def redis_bus(redis_client: Redis, key_prefix: str) -> AsyncIterator[RedisBus]:
    bus = RedisBus(
        Redis.from_url(REDIS_URL),
        prefix=key_prefix,
        visibility_timeout_s=0.2,
        trim_every_s=0,
        reclaim_every_s=0,
    )
    yield bus
    await bus.close()
    keys = [k async for k in redis_client.scan_iter(match=f"{key_prefix}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server on a free port, for a test that stops, restarts or flushes Redis."""
    with RedisServer(tmp_path) as server:
        yield server
