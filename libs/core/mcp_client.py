"""The SDK side of one MCP server: a connected client, its tool list, a result as a task's output.

Uses the official ``mcp`` SDK's ``Client`` over ``stdio_client`` or ``streamable_http_client``,
imported when a server is first opened (the SDK takes about a second to import).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from planwright.core.errors import ConfigError
from planwright.core.mcp_config import ServerConfig, StdioServer

if TYPE_CHECKING:
    from mcp import Client
    from mcp.client import Transport
    from mcp.client._transport import TransportStreams
    from mcp_types import CallToolResult, Tool

MAX_PAGES = 100  # of a tools/list answer
# What a tool without an output schema returns: its text, and its content blocks as JSON.
TEXT_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "content": {"type": "array", "items": {"type": "object"}}},
    "required": ["text", "content"],
}


class ConnectionLost(Exception):
    """The session ended while it was held."""


def output_of(result: CallToolResult) -> dict[str, Any]:
    """A task's output: the structured result when there is one; else the text (what the built-in
    tools read from their inputs) and every content block as JSON."""
    if result.structured_content is not None:
        value = result.structured_content
        return value if isinstance(value, dict) else {"result": value}
    blocks = [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
    return {"text": result_text(result), "content": blocks}


def result_text(result: CallToolResult) -> str:
    """The result's text contents, joined by newlines ("" when it has none)."""
    return "\n".join(
        text for block in result.content if isinstance(text := getattr(block, "text", None), str)
    )


async def list_tools(client: Client) -> list[Tool]:
    """Every tool the server lists, page after page (at most MAX_PAGES)."""
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


@asynccontextmanager
async def open_client(config: ServerConfig, ended: asyncio.Event | None) -> AsyncIterator[Client]:
    """A connected client (``ended`` is set when its connection closes)."""
    import httpx2
    from mcp import Client, StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp_types import Implementation

    import planwright

    async with AsyncExitStack() as stack:
        transport: Transport
        if isinstance(config, StdioServer):
            params = StdioServerParameters(
                command=config.command, args=config.args, env=config.env or None, cwd=config.cwd
            )
            transport = stdio_client(params, errlog=_errlog())
        else:
            # The SDK's own timeouts; headers (secrets) go on every request.
            timeout = httpx2.Timeout(30.0, read=300.0)
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=config.headers, timeout=timeout)
            )
            transport = streamable_http_client(config.url, http_client=http)
        info = Implementation(name="planwright", version=planwright.__version__)
        watched = _watched(transport, ended) if ended is not None else transport
        yield await stack.enter_async_context(Client(watched, client_info=info, cache=None))


@asynccontextmanager
async def _watched(transport: Transport, ended: asyncio.Event) -> AsyncIterator[TransportStreams]:
    """``transport``, setting ``ended`` when its read stream ends (a stdio server exited, say)."""
    async with transport as (read, write):
        yield _EndWatch(read, ended), write


class _EndWatch:
    """A transport's read stream that sets an event when the stream ends."""

    def __init__(self, inner: Any, ended: asyncio.Event) -> None:
        self._inner = inner
        self._ended = ended

    @property
    def last_context(self) -> Any:  # the SDK reads it when the stream has one
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._ended.set()
            raise

    def __aiter__(self) -> _EndWatch:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._ended.set()
        await self._inner.aclose()

    async def __aenter__(self) -> _EndWatch:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        self._ended.set()
        result: bool | None = await self._inner.__aexit__(*exc)
        return result


def _errlog() -> TextIO:
    """Where a stdio server's stderr goes: this process's stderr (its lines join Planwright's log)."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by something without a descriptor
        return sys.__stderr__ or sys.stderr
    return sys.stderr


def describe(exc: BaseException, connect_timeout_s: float) -> str:
    """A short reason: the first real error inside any exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (inner or list(exc.exceptions))[0]
    if isinstance(exc, TimeoutError):
        return f"no answer within {connect_timeout_s:g}s"
    if isinstance(exc, ConnectionLost | ConfigError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    error = getattr(exc, "error", None)  # an MCPError: its message says it all ("Connection closed")
    message = getattr(error, "message", None)
    return message if isinstance(message, str) else f"{type(exc).__name__}: {exc or 'no message'}"
