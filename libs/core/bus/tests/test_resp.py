"""The lean hot-path Redis connection (resp.py) against a real Redis, on asyncio and on uvloop (the
services run on uvloop): replies in order under concurrency, error replies, scripts after a SCRIPT
FLUSH, a Redis restart, a cancelled blocking read losing nothing, AUTH and SELECT, TLS, a silent
server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from planwright.core.bus import resp
from planwright.core.bus.resp import Endpoint, RespConnection, Script
from tests import isolation
from tests.distributed.stack import RedisServer
from tests.transports import RecordingTransport

REDIS_URL = isolation.REDIS_URL


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Awaitable[None]], None]:
    """Run a test's coroutine on a loop of its own, of either kind."""
    if request.param == "uvloop":
        return lambda coro: uvloop.run(coro)  # type: ignore[arg-type]
    return lambda coro: asyncio.run(coro)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def connected(
    url: str, name: str = "pwtest-resp"
) -> AsyncIterator[tuple[RespConnection, aioredis.Redis]]:
    """A connection to ``url`` and a redis-py client for the same URL, both closed after the block,
    whether it passed or failed."""
    client = aioredis.Redis.from_url(url)
    endpoint = Endpoint.of(client)
    assert endpoint is not None
    conn = RespConnection(endpoint, name)
    try:
        yield conn, client
    finally:
        conn.close()
        await client.aclose()


def test_concurrent_callers_get_their_own_replies_in_order(run, key_prefix: str) -> None:
    async def main() -> None:
        async with connected(REDIS_URL) as (conn, _):
            key = f"{key_prefix}counter"
            replies = await asyncio.gather(*(conn.call("INCR", key) for _ in range(200)))
            assert replies == list(range(1, 201))  # written as they came, answered in that order
            several = await conn.execute(
                [("SET", f"{key_prefix}a", "1"), ("GET", f"{key_prefix}a"), ("DEL", key)]
            )
            assert several == [b"OK", b"1", 1]

    run(main())


def test_error_replies_are_returned_in_place_and_raised_by_call(run, key_prefix: str) -> None:
    async def main() -> None:
        async with connected(REDIS_URL) as (conn, _):
            key = f"{key_prefix}text"
            got = await conn.execute([("SET", key, "x"), ("INCR", key), ("GET", key)])
            assert got[0] == b"OK"
            assert isinstance(got[1], ResponseError)
            assert got[2] == b"x"
            with pytest.raises(ResponseError, match="NOGROUP"):
                await conn.call("XREADGROUP", "GROUP", "nobody", "c", "STREAMS", f"{key_prefix}none", ">")
            assert await conn.call("GET", key) == b"x"  # the connection is still in step

    run(main())


def test_the_client_name_is_set(run) -> None:
    async def main() -> None:
        name = f"pwtest-resp-{uuid.uuid4().hex[:8]}"
        async with connected(REDIS_URL, name) as (conn, _):
            assert await conn.call("CLIENT", "GETNAME") == name.encode()

    run(main())


def test_a_script_is_loaded_again_after_script_flush(run, own_redis: RedisServer) -> None:
    async def main() -> None:
        async with connected(own_redis.url) as (conn, _):
            script = Script("return tonumber(ARGV[1]) + 1")
            assert await script.run(conn, [], [41]) == 42
            assert await conn.call("SCRIPT", "FLUSH") == b"OK"
            assert await script.run(conn, [], [1]) == 2  # NOSCRIPT, then EVAL: loaded again
            with pytest.raises(ResponseError):
                await Script("return redis.call('NOSUCHCOMMAND')").run(conn, [], [])

    run(main())


def test_scripts_sent_with_other_commands_are_loaded_again_after_script_flush(
    run, own_redis: RedisServer
) -> None:
    async def main() -> None:
        async with connected(own_redis.url) as (conn, _):
            add = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            double = Script("return tonumber(ARGV[1]) * 2")
            batch = [add.call(["n"], [5]), ("GET", "n"), double.call([], [21])]
            # Neither is known yet: each runs once more with its body, after the GET that went with them.
            assert await resp.run_all(conn, batch) == [5, None, 42]
            assert await resp.run_all(conn, batch) == [10, b"10", 42]  # known now: in order
            assert await conn.call("SCRIPT", "FLUSH") == b"OK"
            assert await resp.run_all(conn, batch) == [15, b"10", 42]
            assert await conn.call("GET", "n") == b"15"  # the INCRBY ran once per batch, not twice
            failing = await resp.run_all(conn, [Script("return redis.call('NOSUCHCOMMAND')").call([], [])])
            assert isinstance(failing[0], ResponseError)  # an error reply stays in its place

    run(main())


def test_what_callers_send_while_corked_goes_in_one_write(run, key_prefix: str) -> None:
    async def main() -> None:
        async with connected(REDIS_URL) as (conn, _):
            assert await conn.call("PING") == b"PONG"  # connected
            proto = conn._proto
            assert proto is not None
            counted = RecordingTransport(proto.transport)
            proto.transport = cast(Any, counted)
            key = f"{key_prefix}corked"
            with conn.corked():
                calls = [asyncio.ensure_future(conn.call("INCR", key)) for _ in range(3)]
                calls.append(asyncio.ensure_future(conn.execute([("GET", key), ("DEL", key)])))
                with conn.corked():  # (nested: the outer one writes)
                    await asyncio.sleep(0)  # each caller's first step: its commands are sent, not written
                assert counted.writes == []
            assert len(counted.writes) == 1
            assert await asyncio.gather(*calls) == [1, 2, 3, [b"3", 1]]  # each its own replies, in order
            await asyncio.gather(conn.call("INCR", key), conn.call("DEL", key))
            assert len(counted.writes) == 3  # not corked: a write per caller

        async with connected(REDIS_URL) as (fresh, _):
            with fresh.corked():  # not connected yet: the command is written once it is
                ping = asyncio.ensure_future(fresh.call("PING"))
                await asyncio.sleep(0)
            assert await ping == b"PONG"

    run(main())


def test_a_restart_fails_the_commands_in_flight_and_the_next_one_connects_again(
    run, own_redis: RedisServer
) -> None:
    async def main() -> None:
        async with connected(own_redis.url) as (conn, _):
            assert await conn.call("SET", "k", "before") == b"OK"
            blocked = asyncio.ensure_future(conn.call("BLPOP", "never", 30))
            await asyncio.sleep(0.1)
            own_redis.stop()
            with pytest.raises(RedisConnectionError):
                await asyncio.wait_for(blocked, timeout=10)
            with pytest.raises((RedisConnectionError, RedisTimeoutError)):
                await conn.call("PING")  # nothing listens
            own_redis.start()  # same port, empty (no persistence)
            assert await conn.call("PING") == b"PONG"
            assert await conn.call("GET", "k") is None

    run(main())


def test_a_cancelled_blocking_read_hands_its_entry_to_the_next_reader(run, key_prefix: str) -> None:
    """Cancelled while blocked, the read's connection is dropped: Redis then gives a new entry to a
    reader that is there, never to the one that left (it would sit unacked until reclaimed)."""

    async def main() -> None:
        stream = f"{key_prefix}work"
        async with connected(REDIS_URL) as (first, client), connected(REDIS_URL) as (second, _):
            await client.xgroup_create(stream, "g", id="0", mkstream=True)
            read = ("XREADGROUP", "GROUP", "g", "c1", "COUNT", 1, "BLOCK", 5000, "STREAMS", stream, ">")
            gone = asyncio.ensure_future(first.execute([read], blocking_s=5))
            await asyncio.sleep(0.2)
            gone.cancel()
            with pytest.raises(asyncio.CancelledError):
                await gone
            await asyncio.sleep(0.2)  # Redis notices the closed connection
            await client.xadd(stream, {"m": "1"})
            (reply,) = await second.execute(
                [("XREADGROUP", "GROUP", "g", "c2", "COUNT", 1, "STREAMS", stream, ">")]
            )
            assert reply is not None
            assert len(reply[0][1]) == 1
            pending = await client.xpending(stream, "g")
            assert pending["pending"] == 1
            assert pending["consumers"] == [{"name": b"c2", "pending": 1}]
            assert await first.call("PING") == b"PONG"  # the cancelled one connects again when used

    run(main())


def test_auth_and_the_database_number_come_from_the_url(run, tmp_path: Path) -> None:
    with RedisServer(tmp_path, password="s3cret") as server:

        async def main() -> None:
            url = f"redis://:s3cret@127.0.0.1:{server.port}/3"
            async with connected(url) as (conn, client):
                assert await conn.call("SET", "where", "three") == b"OK"
                assert await client.get("where") == b"three"  # redis-py, same URL: database 3
            async with connected(f"redis://:nope@127.0.0.1:{server.port}/0") as (wrong, _):
                with pytest.raises(RedisConnectionError, match="refused"):
                    await wrong.call("PING")

        run(main())


def test_tls_with_the_urls_certificate_options(run, tmp_path: Path) -> None:
    """``rediss://`` gets redis-py's own TLS context: the server's certificate is checked against the
    URL's CA, and a client that does not trust it cannot connect."""
    with RedisServer(tmp_path, tls=True) as server:

        async def main() -> None:
            async with connected(server.url) as (conn, client):
                assert await conn.call("SET", "over", "tls") == b"OK"
                assert await client.get("over") == b"tls"  # redis-py over TLS too, same URL
            # No CA: the self-signed certificate is refused.
            async with connected(server.url.split("?")[0]) as (untrusting, _):
                with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                    await untrusting.call("PING")

        run(main())


def test_a_unix_socket(run, tmp_path: Path) -> None:
    with RedisServer(tmp_path, unix=True) as server:

        async def main() -> None:
            assert server.socket is not None
            async with connected(f"unix://{server.socket}?db=5") as (conn, client):
                assert await conn.call("SET", "via", "socket") == b"OK"
                assert await client.get("via") == b"socket"
                db0 = aioredis.Redis.from_url(f"unix://{server.socket}")
                assert await db0.get("via") is None  # written to database 5, as the URL says
                await db0.aclose()

        run(main())


def test_a_server_that_never_answers_times_out_and_drops_the_connection(
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resp, "REPLY_TIMEOUT_S", 0.3)

    async def main() -> None:
        hung_up = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"SETNAME\r\n$6\r\npwtest\r\n")
            writer.write(b"+OK\r\n")  # the hello is answered, then nothing ever again
            while await reader.read(4096):
                pass
            writer.close()
            await writer.wait_closed()
            hung_up.set()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = RespConnection(Endpoint("127.0.0.1", port, None, 0, None, None, 2.0), "pwtest")
        with pytest.raises(RedisTimeoutError):
            await conn.call("PING")
        async with asyncio.timeout(10):  # the dropped connection reaches the server
            await hung_up.wait()
        server.close()
        await server.wait_closed()

    run(main())


def test_endpoints_it_cannot_speak_are_refused() -> None:
    class Custom(aioredis.Connection):
        pass

    client = aioredis.Redis(connection_pool=aioredis.ConnectionPool(connection_class=Custom))
    assert Endpoint.of(client) is None
    with pytest.raises(ValueError, match="TCP, TLS or a Unix socket"):
        RespConnection.like(client, "pwtest")  # the bus and the feed refuse to start with it
    tls = Endpoint.of(aioredis.Redis.from_url("rediss://127.0.0.1:6390/1", ssl_cert_reqs="none"))
    assert tls is not None
    assert tls.tls is not None
    assert tls.db == 1
    unix = Endpoint.of(aioredis.Redis.from_url("unix:///tmp/redis.sock?db=2"))
    assert unix is not None
    assert unix.path == "/tmp/redis.sock"
    assert unix.db == 2
