"""Shared fixtures: an isolated embedded runtime per test, with its own data directory; and the session's
isolation from the caller's environment and from other runs (tests/isolation.py, docs/testing.md)."""

from __future__ import annotations

import asyncio
import os
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
from tests import isolation
from tests.distributed.stack import RedisServer

REPO = Path(__file__).parent
DEMO_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an "
    "artifact, then summarize it."
)

REDIS_URL = isolation.REDIS_URL
_SCRUBBED = pytest.StashKey[list[str]]()  # the caller's settings this session removed


def pytest_configure(config: pytest.Config) -> None:
    if (REPO / ".env").exists():  # Settings read it: the processes tests start would too
        raise pytest.UsageError(
            f"{REPO / '.env'} would configure the processes the tests start: move it away while testing"
        )
    config.stash[_SCRUBBED] = isolation.scrub_environment()
    isolation.begin(getattr(config, "workerinput", None))


def pytest_report_header(config: pytest.Config) -> list[str]:
    scrubbed = config.stash.get(_SCRUBBED, [])
    return [
        f"isolation: Postgres {isolation.PG_ADMIN} (databases pw_test_<run>_*), "
        f"Redis {isolation.REDIS_URL} (keys pwtest:<run>:*)",
        "ignored from the environment: " + (", ".join(scrubbed) if scrubbed else "nothing"),
    ]


def pytest_sessionfinish(session: pytest.Session) -> None:
    isolation.clean_up()  # what this worker's tests left behind, e.g. after a timeout


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest tests first (distributed, then the rest of tests/), so that under xdist they start at
    once on every worker instead of forming the tail of the run; the order is the same in every worker,
    as xdist requires."""
    tests = REPO / "tests"

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("distributed"):
            return 0
        return 1 if item.get_closest_marker("e2e") or tests in item.path.parents else 2

    items.sort(key=rank)


# Tests that each start processes of their own and share nothing with their neighbours: handed out one
# by one. Every other module goes to one worker whole, so that what its tests share (a module's server, a
# browser) is built once.
ONE_BY_ONE = ("tests/distributed/", "tests/bench/")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """make test's ``--dist loadscope --no-loadscope-reorder``: modules in the order above, except for
    the ONE_BY_ONE tests. (xdist_group marks cannot do it: pytest 9 ignores the node ids they change.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return nodeid if module.startswith(ONE_BY_ONE) else module

    return ModuleScheduling(config, log)


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


def unreachable(what: str, exc: BaseException) -> None:
    """Skip a test whose server is down; under CI=true that is a failure instead."""
    if os.environ.get("CI"):
        raise exc
    pytest.skip(f"{what} is not reachable: {exc}")


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    """The tests' Redis (PLANWRIGHT_TEST_REDIS_URL), for a test that uses ``key_prefix``."""
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
    prefix = isolation.key_prefix()
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
