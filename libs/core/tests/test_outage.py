"""Which failures are outages of the database or Redis (libs/core/outage.py), how they are described,
and that an outage is logged once when it starts and once when it ends."""

from __future__ import annotations

import logging

import asyncpg.exceptions as pg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from planwright.core import outage
from planwright.core.db.engine import make_engine

REFUSED = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1


def wrapped(driver: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """``driver`` as SQLAlchemy raises it from asyncpg: a plain DBAPIError around it."""
    try:
        raise sa_exc.DBAPIError("SELECT 1", {}, driver, connection_invalidated=invalidated) from driver
    except sa_exc.DBAPIError as exc:
        return exc


def redis_refused() -> RedisConnectionError:
    """redis-py's refusal, raised while handling the socket's (so only its context says refused)."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.") from None
    except RedisConnectionError as exc:
        exc.__suppress_context__ = False
        return exc


class ProviderError(Exception):
    """Another library's error (a model provider's client, say)."""


def provider_error() -> ProviderError:
    try:
        raise ProviderError("cannot reach the model") from ConnectionRefusedError(111, "refused")
    except ProviderError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "dependency", "reason"),
    [
        # A fast shutdown: the server ends each session with admin_shutdown (57P01).
        (wrapped(pg.AdminShutdownError("terminating connection")), "database", "the server is shutting down"),
        (wrapped(pg.ConnectionDoesNotExistError("closed"), invalidated=True), "database", "connection lost"),
        (wrapped(RuntimeError("gone"), invalidated=True), "database", "connection lost"),
        (
            wrapped(pg.CannotConnectNowError("starting up")),
            "database",
            "the server is not accepting connections yet",
        ),
        (wrapped(pg.TooManyConnectionsError("too many")), "database", "too many connections"),
        (pg.ConnectionFailureError("lost"), "database", "connection lost"),
        (sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError()), "database", "connection refused"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "database", "timed out"),
        (redis_refused(), "redis", "connection refused"),
        (ConnectionResetError(104, "reset"), outage.UNKNOWN, "connection lost"),
        (TimeoutError(), outage.UNKNOWN, "timed out"),
    ],
)
def test_dependency_failures_are_outages_with_a_generic_reason(
    exc: BaseException, dependency: str, reason: str
) -> None:
    assert outage.unavailable(exc)
    assert outage.dependency(exc) == dependency
    assert outage.reason(exc) == reason


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(pg.UniqueViolationError("duplicate key")),  # a constraint: the statement's fault
        sa_exc.IntegrityError("INSERT", {}, pg.UniqueViolationError("duplicate key")),
        sa_exc.ProgrammingError("SELEC 1", {}, pg.PostgresSyntaxError("syntax error")),
        ResponseError("WRONGTYPE"),  # Redis answered: the command was wrong
        ValueError("bad message"),
        FileNotFoundError(2, "no such artifact"),
        provider_error(),  # caused by a refusal, but not a database's or Redis's
    ],
)
def test_other_failures_are_not(exc: BaseException) -> None:
    assert not outage.unavailable(exc)


async def test_a_refused_connection_is_a_database_outage() -> None:
    engine = make_engine(REFUSED)
    try:
        with pytest.raises(Exception) as caught:  # noqa: PT011 (whatever the driver raises)
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
    finally:
        await engine.dispose()
    # asyncpg's refusal comes through bare (an OSError); where it was raised names the database.
    assert outage.unavailable(caught.value)
    assert (outage.dependency(caught.value), outage.reason(caught.value)) == (
        "database",
        "connection refused",
    )
    assert "127.0.0.1" in outage.detail(caught.value)  # for the log, never for an answer


def gauge(component: str, dependency: str) -> float | None:
    labels = {"component": component, "dependency": dependency}
    return REGISTRY.get_sample_value("planwright_dependency_unavailable", labels)


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    away = outage.Outage("test-component", "waiting")
    refused = wrapped(pg.AdminShutdownError("terminating connection due to administrator command"))
    with caplog.at_level(logging.WARNING, logger="planwright.core.outage"):
        away.recovered()  # no outage: nothing to say
        for _ in range(50):
            away.failed(refused)
        assert gauge("test-component", "database") == 1  # ongoing
        away.recovered()
        away.recovered()
    assert not away.ongoing
    assert gauge("test-component", "database") == 0
    started, ended = (r.getMessage() for r in caplog.records)
    assert started == (
        "test-component: database unavailable, the server is shutting down "
        "(AdminShutdownError: terminating connection due to administrator command); waiting"
    )
    assert ended.startswith("test-component: database answers again after ")
    assert ended.endswith("(50 failed attempt(s) meanwhile)")
    assert all(r.exc_info is None for r in caplog.records)


def test_ignored_swallows_outages_only() -> None:
    def fail(exc: Exception) -> None:
        raise exc

    with outage.ignored():
        fail(ConnectionRefusedError(111, "refused"))
    with pytest.raises(ValueError, match="bad"), outage.ignored():
        fail(ValueError("bad"))
