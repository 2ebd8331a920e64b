"""A lean HTTP/1.1 keep-alive client over raw asyncio sockets, for the bench's hot requests.

httpx costs ~3.5 ms of client CPU per request here: at concurrency 50 the bench's own process
saturated its core at ~280 requests/s, so W1 and `POST /jobs` measured the client, not Planwright.
This one writes the request bytes itself and reads back a status, a Content-Length or chunked body,
and nothing else (no redirects, no cookies, no TLS): a few tens of microseconds per request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from bench.util import BenchError

# Idle connections are dropped well before uvicorn's 5 s keep-alive timeout closes them: reusing one
# the server is closing at that moment would fail the request.
IDLE_S = 1.0


class Response:
    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class _Conn:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.idle_since = reader, writer, 0.0

    def close(self) -> None:
        self.writer.close()


def _header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case, with the colon) in a response head."""
    for line in head.split(b"\r\n")[1:]:
        if line[: len(name)].lower() == name:
            return line[len(name) :].strip()
    return None


class NotAStream(BenchError):
    """The answer was not a stream (an API from before ``POST /jobs`` could answer with one)."""


class RawHttp:
    """Requests to one ``host:port`` over a pool of keep-alive connections (at most ``connections``)."""

    def __init__(self, host: str, port: int, connections: int = 100) -> None:
        self.host, self.port = host, port
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(connections)
        self._host_line = f"Host: {host}:{port}\r\n".encode()

    async def _take(self) -> tuple[_Conn, bool]:
        """A connection and whether it was reused (a reused one may have been closed by the server)."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < IDLE_S:
                return conn, True
            conn.close()
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        return _Conn(reader, writer), False

    def _give_back(self, conn: _Conn) -> None:
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def _message(self, method: str, path: str, body: Any, headers: bytes = b"") -> bytes:
        """A request's bytes: ``headers`` (whole lines) added, ``body`` JSON-encoded when given."""
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._host_line + headers
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        return head + b"\r\n" + data

    async def request(self, method: str, path: str, body: Any = None) -> Response:
        """Send one request (``body``: JSON-encoded when given) and read the whole response."""
        message = self._message(method, path, body)
        async with self._slots:
            for attempt in (0, 1):
                conn, reused = await self._take()
                try:
                    conn.writer.write(message)
                    resp_head = await conn.reader.readuntil(b"\r\n\r\n")
                    resp = Response(int(resp_head[9:12]), await self._body(conn.reader, resp_head))
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    conn.close()
                    if reused and attempt == 0:
                        continue  # the server closed it while idle: once more on a new connection
                    raise BenchError(f"{method} {path}: {exc!r}") from exc
                except BaseException:
                    conn.close()
                    raise
                if (_header(resp_head, b"connection:") or b"").lower() == b"close":
                    conn.close()
                else:
                    self._give_back(conn)
                return resp
        raise AssertionError("unreachable")

    async def stream_until(
        self, path: str, stop: Callable[[bytes], bool], body: Any = None
    ) -> tuple[bytes, bytes | None]:
        """GET ``path`` (a chunked stream, e.g. SSE; with ``body``, POST it JSON-encoded) and feed
        each chunk to ``stop`` until it says so; returns the response's head and that chunk (None if
        the stream ended first). The connection is reused when the server ends the stream right after
        it."""
        method = "GET" if body is None else "POST"
        message = self._message(method, path, body, b"Accept: text/event-stream\r\n")
        async with self._slots:
            conn, _ = await self._take()
            try:
                conn.writer.write(message)
                resp_head = await conn.reader.readuntil(b"\r\n\r\n")
                if resp_head[9:12] not in (b"200", b"201"):
                    raise BenchError(f"{method} {path}: {resp_head.splitlines()[0]!r}")
                if (_header(resp_head, b"transfer-encoding:") or b"").lower() != b"chunked":
                    raise NotAStream(f"{method} {path}: expected a chunked stream, got {resp_head!r}")
                found: bytes | None = None
                while True:
                    chunk = await _chunk(conn.reader)
                    if chunk is None:
                        break  # the stream's end: the connection is free again
                    if found is None and stop(chunk):
                        found = chunk
            except BaseException:
                conn.close()
                raise
            self._give_back(conn)
            return resp_head, found

    async def _body(self, reader: asyncio.StreamReader, head: bytes) -> bytes:
        length = _header(head, b"content-length:")
        if length is not None:
            return await reader.readexactly(int(length))
        if (_header(head, b"transfer-encoding:") or b"").lower() == b"chunked":
            parts = []
            while (chunk := await _chunk(reader)) is not None:
                parts.append(chunk)
            return b"".join(parts)
        return b""

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


async def _chunk(reader: asyncio.StreamReader) -> bytes | None:
    """One chunk of a chunked body; None for the last (empty) one."""
    size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
    if size == 0:
        await reader.readline()  # the blank line after the last chunk (no trailers here)
        return None
    return (await reader.readexactly(size + 2))[:-2]
