"""A lean Redis connection for the hot path: one held socket, commands written at once, replies
parsed by hiredis in the order they come (ADR 0019).

redis-py spends ~50-75 us of Python per command around the network (pool checkout, retry and
observability wrappers, response callbacks). The bus's publishes and reads and the feed's
announcements are a few commands per task; here they cost a ``pack_command``, a socket write and a
future. Everything else (group creation, reclaiming, trimming, stats) stays on redis-py.

Failures keep redis-py's types, so the callers' handling is the same for both: a lost connection is
``redis.exceptions.ConnectionError`` (the next command connects again), no answer within the
timeout is ``redis.exceptions.TimeoutError`` (and the connection is dropped), and an error reply is
returned as a ``redis.exceptions.ResponseError`` instance in place of its reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import ssl
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = bytes | str | int | float
Command = Sequence[Arg]

# How long a command that does not block may go unanswered before the connection counts as dead.
REPLY_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and as whom to connect: read from a redis-py client, so both use one configuration."""

    host: str | None
    port: int
    path: str | None  # a Unix socket
    db: int
    username: str | None
    password: str | None
    connect_timeout_s: float
    tls: ssl.SSLContext | None = None

    @classmethod
    def of(cls, client: aioredis.Redis) -> Endpoint | None:
        """The endpoint of ``client``'s pool (TCP, TLS with redis-py's own context for the URL's
        ``ssl_*`` options, or a Unix socket); None for anything else (Sentinel, a custom class)."""
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        kind = pool.connection_class
        tls = None
        if kind is aioredis.Connection or kind is aioredis.SSLConnection:
            host, port, path = str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379)), None
            if kind is aioredis.SSLConnection:
                tls = pool.make_connection().ssl_context.get()  # type: ignore[no-untyped-call]
        elif kind is aioredis.UnixDomainSocketConnection:
            host, port, path = None, 0, str(kwargs["path"])
        else:
            return None
        return cls(
            host,
            port,
            path,
            tls=tls,
            db=int(kwargs.get("db") or 0),
            username=kwargs.get("username"),
            password=kwargs.get("password"),
            connect_timeout_s=float(kwargs.get("socket_connect_timeout") or 5.0),
        )


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self.cork: list[bytes] | None = None  # while corked: what to write when it ends

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is no asyncio.Transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def send(self, commands: Sequence[Command]) -> list[asyncio.Future[Any]]:
        if self.lost is not None or self.transport is None:
            raise RedisConnectionError(f"connection to Redis lost: {self.lost}")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        self._waiting.extend(futures)
        pack: Any = hiredis.pack_command  # (its stub takes one-element tuples only)
        data = pack(tuple(commands[0])) if len(commands) == 1 else b"".join(pack(tuple(c)) for c in commands)
        if self.cork is not None:
            self.cork.append(data)
        else:
            self.transport.write(data)
        return futures

    def uncork(self) -> None:
        """Write what was sent while corked, in one write."""
        data, self.cork = self.cork, None
        if data and self.lost is None and self.transport is not None:
            self.transport.write(b"".join(data))

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.abort(RedisConnectionError(f"Redis protocol error: {exc}"))
                return
            if reply is False:  # hiredis: no complete reply yet (RESP2 has no boolean replies)
                return
            if not self._waiting:  # a reply nobody asked for: this connection is out of step
                self.abort(RedisConnectionError("Redis sent a reply to no command"))
                return
            future = self._waiting.popleft()
            if not future.done():  # its caller may have given up (cancelled): the reply is dropped
                future.set_result(reply)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed by the server'}"))

    def abort(self, error: BaseException) -> None:
        self._fail(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: BaseException) -> None:
        if self.lost is None:
            self.lost = error
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)


class RespConnection:
    """One held connection. Commands from concurrent callers are written as they come and answered
    in order (pipelining for free); the first command after a loss connects again."""

    def __init__(self, endpoint: Endpoint, client_name: str) -> None:
        self.endpoint = endpoint
        self.client_name = client_name
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._closed = False

    @classmethod
    def like(cls, client: aioredis.Redis, client_name: str) -> RespConnection:
        """A connection to where ``client`` connects, as it does (``Endpoint.of``)."""
        endpoint = Endpoint.of(client)
        if endpoint is None:
            raise ValueError("Planwright reaches Redis over TCP, TLS or a Unix socket only (see REDIS_URL)")
        return cls(endpoint, client_name)

    async def _protocol(self) -> _Protocol:
        proto = self._proto
        if proto is not None and proto.lost is None:
            return proto
        if self._closed:
            raise RedisConnectionError("the connection was closed")
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._proto is not None and self._proto.lost is None:
                return self._proto
            self._proto = await self._connect()
            return self._proto

    async def _connect(self) -> _Protocol:
        ep = self.endpoint
        loop = asyncio.get_running_loop()
        proto: _Protocol | None = None
        try:
            async with asyncio.timeout(ep.connect_timeout_s):
                if ep.path is not None:
                    _, proto = await loop.create_unix_connection(_Protocol, ep.path)
                else:
                    _, proto = await loop.create_connection(
                        _Protocol, ep.host or "localhost", ep.port, ssl=ep.tls
                    )
                hello: list[Command] = []
                if ep.password is not None:
                    hello.append(("AUTH", ep.username, ep.password) if ep.username else ("AUTH", ep.password))
                if ep.db:
                    hello.append(("SELECT", ep.db))
                hello.append(("CLIENT", "SETNAME", self.client_name))
                for reply in await asyncio.gather(*proto.send(hello)):
                    if isinstance(reply, ResponseError):
                        raise RedisConnectionError(f"Redis refused the connection: {reply}")
            return proto
        except BaseException as exc:
            if proto is not None:  # half set up: never left open
                proto.abort(RedisConnectionError("connecting failed"))
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(f"no connection to Redis within {ep.connect_timeout_s:g}s") from exc
            if isinstance(exc, OSError):  # refused, unreachable: as redis-py says it
                raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
            raise

    async def execute(self, commands: Sequence[Command], *, blocking_s: float | None = None) -> list[Any]:
        """Send ``commands`` at once and return their replies (an error reply as a ResponseError).

        ``blocking_s``: the commands may block that long on the server (XREADGROUP BLOCK). If such a
        read is cancelled or times out, the connection is dropped: the server then hands the entries
        to nobody, instead of to a reader that will never see them. Every connection that times out
        is dropped too; a cancelled command that does not block just has its reply thrown away.
        """
        proto = await self._protocol()
        futures = proto.send(commands)
        timeout = REPLY_TIMEOUT_S + (blocking_s or 0.0)
        try:
            async with asyncio.timeout(timeout):
                await futures[-1]  # replies come in order: the last one means all are there
        except TimeoutError as exc:
            error = RedisTimeoutError(f"Redis did not answer within {timeout:g}s")
            proto.abort(error)
            raise error from exc
        except asyncio.CancelledError:
            if blocking_s is not None:
                proto.abort(RedisConnectionError("a blocking read was cancelled"))
            raise
        finally:
            for future in futures[:-1]:  # the connection's loss is raised once, not logged per command
                if future.done() and not future.cancelled():
                    future.exception()
        return [f.result() for f in futures]

    async def call(self, *command: Arg) -> Any:
        """One command; an error reply is raised."""
        (reply,) = await self.execute([command])
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    @contextlib.contextmanager
    def corked(self) -> Iterator[None]:
        """Commands sent meanwhile, by any caller, go to Redis in one write when it ends: several
        callers' commands of one moment cost one send and, most often, one read of their replies.
        (Only while connected: a command that has to connect first is written once connected.)"""
        proto = self._proto
        if proto is None or proto.lost is not None or proto.cork is not None:
            yield
            return
        proto.cork = []
        try:
            yield
        finally:
            proto.uncork()

    def close(self) -> None:
        """Close for good: commands waiting fail with ConnectionError, and so does every later one."""
        self._closed = True
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()


class Script:
    """A Lua script run by its SHA1, loaded on the first NOSCRIPT (a restart or SCRIPT FLUSH)."""

    _bodies: ClassVar[dict[str, str]] = {}  # every script's body by its SHA1 (for ``run_all``)

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode()).hexdigest()
        Script._bodies[self.sha] = body

    def call(self, keys: Sequence[Arg], args: Sequence[Arg]) -> Command:
        """The command that runs the script, to send along with others (``run_all``)."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    async def run(self, conn: RespConnection, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """The script's reply; an error reply is raised."""
        (reply,) = await run_all(conn, [self.call(keys, args)])
        if isinstance(reply, ResponseError):
            raise reply
        return reply


async def run_all(conn: RespConnection, commands: Sequence[Command]) -> list[Any]:
    """``conn.execute`` for commands some of which run scripts (``Script.call``): a script Redis did
    not know (NOSCRIPT) runs again at once with its body, after the commands sent with it."""
    replies = await conn.execute(commands)
    again = [i for i, reply in enumerate(replies) if _unknown_script(commands[i], reply)]
    if again:
        bodies = Script._bodies
        retried = await conn.execute([("EVAL", bodies[str(commands[i][1])], *commands[i][2:]) for i in again])
        for i, reply in zip(again, retried, strict=True):
            replies[i] = reply
    return replies


def _unknown_script(command: Command, reply: Any) -> bool:
    return command[0] == "EVALSHA" and isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT")
