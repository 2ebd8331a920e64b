"""What a test run may touch: the servers named by PLANWRIGHT_TEST_* variables, under names of its own.

The caller's Planwright settings (DATABASE_URL, REDIS_URL, LLM_PROVIDER, API keys, PLANWRIGHT_*, ...) are
removed when the session starts, so neither in-process Settings nor the processes tests start see them.
Every Postgres database and Redis key a test makes is named after the run and the xdist worker
(``pw_test_<run>_<worker>_...``, ``pwtest:<run>:<worker>:...``): parallel workers, and parallel runs,
never share one, and each worker removes its own at the end of the session, even those of a test that
was stopped half-way. docs/testing.md describes it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
import redis
from redis.exceptions import RedisError

from planwright.core.settings import Settings

# The admin URL of a Postgres where tests may create (and drop) databases, and the Redis they use.
PG_ADMIN = os.environ.get("PLANWRIGHT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PLANWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Read by the command line, the client and the Makefile rather than by Settings.
OTHER_SETTINGS = frozenset(
    {
        "LOG_LEVEL",
        "LOG_FORMAT",
        "PLANWRIGHT_API",
        "PLANWRIGHT_API_KEY",
        "PORT",
        "HOST",
        "API_PORT",
        "API_HOST",
    }
)
# Families read by what Planwright configures: the OTLP exporter (every OTEL_*), the model SDKs.
SETTING_PREFIXES = ("PLANWRIGHT_", "OTEL_", "OPENAI_", "ANTHROPIC_", "LLM_")
# The tests' own variables.
TEST_VARIABLES = ("PLANWRIGHT_TEST_", "PLANWRIGHT_CHROMIUM")


def is_setting(name: str) -> bool:
    """Whether the environment variable ``name`` configures Planwright (names are case-insensitive)."""
    upper = name.upper()
    if upper.startswith(TEST_VARIABLES):
        return False
    return (
        upper.lower() in Settings.model_fields
        or upper in OTHER_SETTINGS
        or upper.startswith(SETTING_PREFIXES)
    )


def scrub_environment() -> list[str]:
    """Remove every Planwright setting from this process's environment; returns the names removed."""
    removed = sorted(name for name in os.environ if is_setting(name))
    for name in removed:
        del os.environ[name]
    return removed


@dataclass(frozen=True)
class Scope:
    run: str  # the xdist run's id, shared by its workers; a fresh one without xdist
    worker: str  # gw0, gw1... or main

    @property
    def redis_prefix(self) -> str:
        return f"pwtest:{self.run}:{self.worker}:"

    @property
    def database_prefix(self) -> str:
        return f"pw_test_{self.run}_{self.worker}_"


_scope = Scope(run=uuid.uuid4().hex[:8], worker="main")


def begin(workerinput: dict[str, str] | None) -> Scope:
    """Name this session's scope: an xdist worker's from its controller's run id (``workerinput``)."""
    global _scope
    if workerinput is not None:
        _scope = Scope(run=workerinput["testrunuid"][:8], worker=workerinput["workerid"])
    return _scope


def key_prefix() -> str:
    """A Redis key prefix of one test's own, inside this session's scope."""
    return f"{_scope.redis_prefix}{uuid.uuid4().hex[:10]}:"


def database_name() -> str:
    """A Postgres database name of one test's own, inside this session's scope."""
    return f"{_scope.database_prefix}{uuid.uuid4().hex[:10]}"


def database_url(name: str) -> str:
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def clean_up() -> list[str]:
    """Remove this session's Redis keys and Postgres databases; returns what could not be reached."""
    unreachable = []
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5) as client:
            keys = list(client.scan_iter(match=f"{_scope.redis_prefix}*", count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
    except (OSError, RedisError) as exc:
        unreachable.append(f"Redis at {REDIS_URL}: {exc}")
    try:
        asyncio.run(_drop_databases(_scope.database_prefix))
    except (OSError, asyncpg.PostgresError) as exc:
        unreachable.append(f"Postgres at {PG_ADMIN}: {exc}")
    return unreachable


async def _drop_databases(prefix: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        names = await conn.fetch("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix)
        for (name,) in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
