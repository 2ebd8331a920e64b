"""Telling "a dependency is away" from "this went wrong", and saying so once per outage.

``unavailable(exc)`` is the one test of whether a failure means the database or Redis cannot be
reached: refused, timed out, the connection dropped, the server shutting down, starting up or out of
connections. Such a failure is no message's and no request's fault: a consume loop holds its batch and
tries it again in place (no delivery is used), a background loop backs off, the API answers 503. Any
other failure (a constraint violated, a bad statement, a bug) is not an outage.

``Outage`` is one component's memory of an outage: one WARNING when it starts, naming the dependency
and a generic reason, one when it ends, with its length, and nothing in between however often the
component tries meanwhile. The gauge ``planwright_dependency_unavailable`` counts the outages in
progress by component and dependency.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import time
import traceback
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

from planwright.core import metrics

log = logging.getLogger(__name__)

# Postgres SQLSTATEs that say the server is away rather than the statement wrong (class 08, connection
# exception, is matched by its prefix).
_SHUTTING_DOWN = frozenset({"57P01", "57P02"})  # admin_shutdown, crash_shutdown
_NOT_YET = "57P03"  # cannot_connect_now: starting up, shutting down, in recovery
_TOO_MANY = "53300"  # too_many_connections
_SQLALCHEMY = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
# OSErrors that are about files, not connections: a handler's own mistake, never an outage.
_FILES = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
# Where an error comes from, by module, for naming the dependency.
_ORIGINS = (
    ("sqlalchemy", "database"),
    ("asyncpg", "database"),
    ("aiosqlite", "database"),
    ("sqlite3", "database"),
    ("planwright.core.db", "database"),
    ("redis", "redis"),
    ("hiredis", "redis"),
    ("planwright.core.bus", "redis"),
    ("planwright.core.feed_redis", "redis"),
)
UNKNOWN = "a dependency"


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or the driver error it wraps) says the database or Redis cannot be reached now.

    The causes of an error are looked at only while the error is a driver's (SQLAlchemy's, asyncpg's,
    redis-py's): an error of anything else, say an HTTP client's, is not an outage of ours whatever
    its cause."""
    for e in _chain(exc, implicit=False):
        if _says_unavailable(e):
            return True
        if _origin(type(e).__module__) is None:
            return False
    return False


def families() -> tuple[type[Exception], ...]:
    """The exception classes an outage can arrive as (for ``except`` clauses and exception handlers
    that then ask ``unavailable``); the drivers' own only once they are loaded."""
    found: list[type[Exception]] = [OSError, sa_exc.SQLAlchemyError]
    if (redis := sys.modules.get("redis.exceptions")) is not None:
        found.append(redis.RedisError)
    if (asyncpg := sys.modules.get("asyncpg.exceptions")) is not None:
        found.extend([asyncpg.PostgresError, asyncpg.InterfaceError])
    return tuple(found)


def dependency(exc: BaseException) -> str:
    """Which dependency ``exc`` is about: ``database``, ``redis``, or ``a dependency`` when neither its
    type nor where it was raised tells."""
    chain = list(_chain(exc, implicit=True))
    for e in chain:
        if (name := _origin(type(e).__module__)) is not None:
            return name
    for e in chain:  # a bare OSError: the innermost frame of a driver that raised it
        for frame, _ in reversed(list(traceback.walk_tb(e.__traceback__))):
            if (name := _origin(frame.f_globals.get("__name__", ""))) is not None:
                return name
    return UNKNOWN


def reason(exc: BaseException) -> str:
    """A short, generic reason for an outage (``connection refused``, ``the server is shutting down``),
    never the driver's message, which may name hosts, users or statements."""
    chain = list(_chain(exc, implicit=True))
    for e in chain:
        state = _sqlstate(e)
        if state in _SHUTTING_DOWN:
            return "the server is shutting down"
        if state == _NOT_YET:
            return "the server is not accepting connections yet"
        if state == _TOO_MANY:
            return "too many connections"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "host not found"
        if isinstance(e, TimeoutError | sa_exc.TimeoutError) or _is_redis(e, "TimeoutError"):
            return "timed out"
    for e in chain:
        if _lost(e):
            return "connection lost"
        if isinstance(e, OSError):
            return f"network error ({type(e).__name__})"
    return type(exc).__name__  # e.g. SQLite's OperationalError (database is locked)


def detail(exc: BaseException) -> str:
    """The innermost error's type and message, for the log (where the host it names helps)."""
    innermost = list(_chain(exc, implicit=True))[-1]
    return f"{type(innermost).__name__}: {str(innermost)[:200]}"


@contextlib.contextmanager
def ignored() -> Iterator[None]:
    """Swallow an outage (what the block tried is tried again later); anything else is raised."""
    try:
        yield
    except Exception as exc:
        if not unavailable(exc):
            raise


class Outage:
    """One component's outages: ``failed(exc)`` after each failure that ``unavailable`` accepts,
    ``recovered()`` after each success of the same work. The first failure logs a WARNING (component,
    dependency, generic reason, the driver's message, and what the component does meanwhile); the
    first success after it logs one with the outage's length; the calls in between log nothing."""

    def __init__(
        self, component: str, waiting: str = "retrying until it answers", logger: logging.Logger = log
    ) -> None:
        self.component = component
        self.waiting = waiting
        self.dependency = ""
        self.since: float | None = None  # time.monotonic() of the first failure
        self.failures = 0
        self._log = logger

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(
        self, exc: BaseException, waiting: str | None = None, *, dependency_name: str | None = None
    ) -> None:
        """Note a failure; log it if it starts an outage. ``waiting`` overrides what the start line says
        the component does meanwhile; ``dependency_name``, the dependency read from ``exc``."""
        self.failures += 1
        if self.since is not None:
            return
        self.since = time.monotonic()
        self.dependency = dependency_name or dependency(exc)
        metrics.DEPENDENCY_UNAVAILABLE.labels(self.component, self.dependency).inc()
        self._log.warning(
            "%s: %s unavailable, %s (%s); %s",
            self.component,
            self.dependency,
            reason(exc),
            detail(exc),
            waiting or self.waiting,
        )

    def recovered(self) -> None:
        """Note a success; if it ends an outage, log how long it lasted."""
        if self.since is None:
            return
        lasted, failures = time.monotonic() - self.since, self.failures
        self.since, self.failures = None, 0
        metrics.DEPENDENCY_UNAVAILABLE.labels(self.component, self.dependency).dec()
        self._log.warning(
            "%s: %s answers again after %.1fs (%d failed attempt(s) meanwhile)",
            self.component,
            self.dependency,
            lasted,
            failures,
        )


def _chain(exc: BaseException, *, implicit: bool) -> Iterator[BaseException]:
    """``exc``, the driver error it wraps (SQLAlchemy's ``orig``), its cause, and so on; with
    ``implicit``, also the error being handled when it was raised (``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            current = orig
        else:
            current = current.__cause__ or (current.__context__ if implicit else None)


def _says_unavailable(e: BaseException) -> bool:
    if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
        return True  # the dialect judged it a disconnect
    if isinstance(e, _SQLALCHEMY):
        return True
    if isinstance(e, OSError):  # refused, reset, unreachable, timed out (TimeoutError is an OSError)
        return not isinstance(e, _FILES)
    state = _sqlstate(e)
    if state is not None and (
        state.startswith("08") or state in _SHUTTING_DOWN or state in (_NOT_YET, _TOO_MANY)
    ):
        return True
    return _is_redis(e, "ConnectionError") or _is_redis(e, "TimeoutError")


def _lost(e: BaseException) -> bool:
    """Whether ``e`` says an open connection broke."""
    invalidated = isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated
    state = _sqlstate(e) or ""
    return (
        invalidated
        or isinstance(e, ConnectionError)
        or state.startswith("08")
        or _is_redis(e, "ConnectionError")
    )


def _sqlstate(e: BaseException) -> str | None:
    state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)  # asyncpg's and psycopg's
    return state if isinstance(state, str) else None


def _is_redis(e: BaseException, name: str) -> bool:
    """Whether ``e`` is redis-py's ``name`` error; a process that never loaded redis cannot raise one."""
    errors = sys.modules.get("redis.exceptions")
    return errors is not None and isinstance(e, getattr(errors, name))


def _origin(module: str) -> str | None:
    for prefix, name in _ORIGINS:
        if module == prefix or module.startswith(prefix + "."):
            return name
    return None
