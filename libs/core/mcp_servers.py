"""MCP servers as tool sources: each process's manager keeps every server's tools in its registry.

A server's tools are registered as ``mcp.<server>.<tool>`` (source ``mcp:<server>``) with the
server's own schemas and description. A process that runs workers holds one session per server: it
connects in the background, asks for the tool list again every ``probe_s``, and reconnects after a
loss (at once, then with backoff up to ``backoff_max_s``). The other processes that read the catalog
(API, planner) hold no session: they list each server's tools every ``relist_s``. Policy and critic
processes connect to nothing. A server that is down stops nothing: tools it listed before stay
registered and fail retryably; ``statuses()`` tells the truth. The SDK side (connecting, listing,
results) is in ``mcp_client.py``. See docs/mcp.md and ADR 0020.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio

from planwright.core import redact
from planwright.core.errors import ConfigError, RetryableToolError, ToolError
from planwright.core.mcp_client import (
    TEXT_OUTPUT_SCHEMA,
    ConnectionLost,
    describe,
    list_tools,
    open_client,
    output_of,
    result_text,
)
from planwright.core.mcp_config import HttpServer, McpFile, ServerConfig, load_mcp_config
from planwright.core.redact import Redactor
from planwright.core.settings import Settings
from planwright.core.tool_registry import ToolCall, ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import Tool

log = logging.getLogger(__name__)

PROBE_S = 30.0  # a held session lists its tools again this often (finds a quiet loss, a changed list)
RELIST_S = 60.0  # a process without sessions lists each server's tools this often
BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 30.0  # between failed connection attempts
CONNECT_TIMEOUT_S = 30.0  # to connect and list the tools
START_WAIT_S = 10.0  # start() waits this long for the first attempts, so the catalog is complete
CALL_WAIT_S = 10.0  # a call waits this long for a server that is connecting or was just lost
CLOSE_WAIT_S = 10.0  # close() waits this long for the sessions to end (a stdio server takes <= ~4 s)
MAX_TOOL_NAME = 64  # the tasks table's tool column
_MCP_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
Status = Literal["connected", "connecting", "down"]


@dataclass(frozen=True)
class ServerStatus:
    """One server as this process sees it (an item of ``GET /tools``'s ``servers``)."""

    name: str
    transport: Literal["stdio", "http"]
    status: Status
    error: str | None
    tools: int  # registered now (a down server keeps the tools it listed last)
    since: datetime | None  # when it entered this status


class _Server:
    """One configured server: what this process knows of it, and its session while one is held."""

    def __init__(self, name: str, config: ServerConfig) -> None:
        self.name = name
        self.config = config
        self.source = f"mcp:{name}"
        self.status: Status = "connecting"
        self.error: str | None = None
        self.since = datetime.now(UTC)
        self.tools: list[ToolSpec] = []
        self.listed: list[dict[str, Any]] | None = None  # the last tool list, to skip unchanged ones
        self.client: Client | None = None
        self.ended = asyncio.Event()  # the held session's connection closed
        self.wake = asyncio.Event()  # ends a pause or a hold's wait early (close, loss)
        self.settled = asyncio.Event()  # set (and replaced) when a connection attempt has its outcome
        self.attempted = asyncio.Event()  # the first attempt has had its outcome
        secrets = config.headers.values() if isinstance(config, HttpServer) else config.env.values()
        self.redact = Redactor(secrets)

    def set(self, status: Status, error: str | None = None) -> None:
        if status != self.status:
            self.since = datetime.now(UTC)
        self.status, self.error = status, error

    @property
    def usable(self) -> bool:
        return self.client is not None and not self.ended.is_set()

    def settle(self) -> None:
        """An attempt succeeded or failed: wake the calls waiting for it."""
        done, self.settled = self.settled, asyncio.Event()
        done.set()
        self.attempted.set()

    def lose(self, client: Client) -> None:
        """A call found ``client``'s connection closed: end the hold now, if it is still the one held."""
        if client is self.client:
            self.ended.set()
            self.wake.set()


class McpServers:
    """The MCP servers of one process. ``start()`` returns once each server has had a first attempt
    (or START_WAIT_S passed); ``close()`` ends every session, stdio child processes included."""

    def __init__(
        self,
        config: McpFile,
        registry: ToolRegistry,
        *,
        hold_sessions: bool = True,
        probe_s: float = PROBE_S,
        relist_s: float = RELIST_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.registry = registry
        self.hold_sessions = hold_sessions
        self.probe_s, self.relist_s = probe_s, relist_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self._servers = {name: _Server(name, cfg) for name, cfg in config.servers.items()}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()
        if self._servers:
            registry.missing = self._missing

    def _missing(self, tool: str) -> ToolError | None:
        """A task for a tool of a configured server this process has not listed yet (the server is
        connecting or down here): retryable, not "unknown tool"."""
        prefix, _, rest = tool.partition(".")
        server = self._servers.get(rest.partition(".")[0]) if prefix == "mcp" else None
        if server is None or server.status == "connected":
            return None
        why = f": {server.error}" if server.error else ""
        return RetryableToolError(
            f"MCP server '{server.name}' is {server.status} here{why}; {tool} is not listed yet"
        )

    async def start(self, wait_s: float = START_WAIT_S) -> None:
        if self._tasks or not self._servers:
            return
        self._closing.clear()
        for server in self._servers.values():
            self._tasks.append(asyncio.create_task(self._run(server), name=f"mcp-{server.name}"))
        firsts = [asyncio.ensure_future(s.attempted.wait()) for s in self._servers.values()]
        _, late = await asyncio.wait(firsts, timeout=wait_s)
        for waiter in late:
            waiter.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def close(self) -> None:
        self._closing.set()
        for server in self._servers.values():
            server.wake.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=CLOSE_WAIT_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def statuses(self) -> list[ServerStatus]:
        return [
            ServerStatus(s.name, s.config.transport, s.status, s.error, len(s.tools), s.since)
            for s in self._servers.values()
        ]

    async def _run(self, server: _Server) -> None:
        """Connect, and again after a failure or loss, until ``close()``."""
        delay = BACKOFF_MIN_S
        while not self._closing.is_set():
            wait = self.relist_s
            try:
                await (self._hold(server) if self.hold_sessions else self._list(server))
                delay = BACKOFF_MIN_S
            except Exception as exc:
                if self._closing.is_set():
                    break
                lost = server.status == "connected"  # a session that worked: try again at once
                self._down(server, exc)
                if lost:
                    wait, delay = 0.0, BACKOFF_MIN_S
                else:
                    wait, delay = delay, min(delay * 2, self.backoff_max_s)
                    server.settle()
            await self._pause(server, wait)

    async def _hold(self, server: _Server) -> None:
        """Hold a session until ``close()`` (returns) or until it is lost (raises)."""
        server.ended = ended = asyncio.Event()
        with anyio.fail_after(self.connect_timeout_s) as limit:
            async with open_client(server.config, ended) as client:
                tools = await list_tools(client)
                limit.deadline = math.inf  # the time limit was for connecting
                self._up(server, tools, client)
                try:
                    while not self._closing.is_set():
                        if ended.is_set():
                            raise ConnectionLost("the connection closed")
                        with anyio.move_on_after(self.probe_s):
                            await server.wake.wait()
                        server.wake.clear()
                        if self._closing.is_set() or ended.is_set():
                            continue
                        with anyio.fail_after(self.connect_timeout_s):
                            self._up(server, await list_tools(client), client)
                finally:
                    server.client = None

    async def _list(self, server: _Server) -> None:
        with anyio.fail_after(self.connect_timeout_s):
            async with open_client(server.config, None) as client:
                tools = await list_tools(client)
        self._up(server, tools, None)

    async def _pause(self, server: _Server, seconds: float) -> None:
        if self._closing.is_set() or seconds <= 0:
            return
        server.wake.clear()
        with anyio.move_on_after(seconds):
            await server.wake.wait()

    def _up(self, server: _Server, tools: list[Tool], client: Client | None) -> None:
        listed = [t.model_dump(mode="json") for t in tools]
        if listed != server.listed:
            specs = [spec for tool in tools if (spec := self._spec(server, tool)) is not None]
            try:
                self.registry.replace_source(server.source, specs)
            except ConfigError as exc:
                raise ConfigError(f"MCP server '{server.name}': {exc.message}") from exc
            server.tools, server.listed = specs, listed
        server.client = client
        if server.status != "connected":
            log.info("mcp: server '%s' connected (%d tools)", server.name, len(server.tools))
            server.set("connected")
            server.settle()

    def _down(self, server: _Server, exc: BaseException) -> None:
        error = server.redact(describe(exc, self.connect_timeout_s))
        if server.status != "down" or server.error != error:
            kept = f"; its {len(server.tools)} tool(s) fail until it is back" if server.tools else ""
            log.warning("mcp: server '%s' is down: %s%s", server.name, error, kept)
        server.set("down", error)

    def _spec(self, server: _Server, tool: Tool) -> ToolSpec | None:
        """The registry's spec for ``tool``, or None (logged) for a tool Planwright cannot take."""
        from jsonschema import Draft202012Validator, SchemaError

        name = f"mcp.{server.name}.{tool.name}"
        problem = None
        if not _MCP_TOOL_NAME.match(tool.name) or len(name) > MAX_TOOL_NAME:
            problem = f"its name must be letters, digits, '_', '-' and '.', at most {MAX_TOOL_NAME} in all"
        for schema in (tool.input_schema, tool.output_schema or {}):
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                problem = f"its schema is not valid JSON Schema: {exc.message}"
        if problem:
            log.warning("mcp: skipping tool %r of server '%s': %s", tool.name, server.name, problem)
            return None

        async def handler(call: ToolCall, args: dict[str, Any]) -> dict[str, Any]:
            return await self._call(server, tool.name, call, args)

        hints = tool.annotations
        return ToolSpec(
            name=name,
            description=(tool.description or tool.title or tool.name).strip(),
            args_model=None,
            output_model=None,
            handler=handler,
            side_effects=not (hints is not None and hints.read_only_hint is True),
            timeout_s=server.config.timeout_s,
            args_json_schema=tool.input_schema,
            output_json_schema=tool.output_schema or TEXT_OUTPUT_SCHEMA,
            source=server.source,
        )

    async def _call(self, server: _Server, tool: str, call: ToolCall, args: dict[str, Any]) -> dict[str, Any]:
        """One tools/call over the held session (the registry applies the timeout)."""
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, INTERNAL_ERROR, REQUEST_TIMEOUT
        from pydantic import ValidationError

        client = await self._client(server)

        async def report(progress: float, total: float | None, message: str | None) -> None:
            await call.progress(message or (f"{progress:g}/{total:g}" if total else f"{progress:g}"))

        where = f"MCP server '{server.name}'"
        try:
            result = await client.call_tool(tool, args, progress_callback=report)
        except MCPError as exc:
            lost = exc.code == CONNECTION_CLOSED or exc.error.message == "Session terminated"
            if lost:
                server.lose(client)
            if lost or exc.code in (REQUEST_TIMEOUT, INTERNAL_ERROR):
                raise RetryableToolError(f"{where}: {exc.error.message}") from exc
            raise ToolError(f"{where} refused the call to {tool}: {exc.error.message}") from exc
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError, OSError) as exc:
            server.lose(client)
            raise RetryableToolError(f"{where}: the connection was lost ({type(exc).__name__})") from exc
        except ValidationError as exc:
            raise ToolError(f"{where} answered the call to {tool} with an invalid result: {exc}") from exc
        if result.is_error:
            raise ToolError(result_text(result) or f"{tool} failed (the server gave no message)")
        return output_of(result)

    async def _client(self, server: _Server) -> Client:
        """The held session. A server that is connecting, or was lost a moment ago, gets the outcome
        of its next attempt awaited (at most CALL_WAIT_S); one that is down fails the call at once."""
        if not self.hold_sessions:
            raise ToolError(f"this process only lists MCP server '{server.name}''s tools; workers run them")
        down_for = (datetime.now(UTC) - server.since).total_seconds()
        if not server.usable and (server.status != "down" or down_for < CALL_WAIT_S):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CALL_WAIT_S):
                    await server.settled.wait()
        if server.client is None or not server.usable:
            why = f": {server.error}" if server.error else ""
            raise RetryableToolError(f"MCP server '{server.name}' is {server.status}{why}")
        return server.client


def mcp_servers(settings: Settings, registry: ToolRegistry, roles: Iterable[str]) -> McpServers:
    """The manager for a process with ``roles``: sessions where tools run (worker), tool lists where
    the catalog is only read (API, planner), nothing otherwise. Reads MCP_CONFIG_PATH there, so an
    invalid file stops such a process (``ConfigError``)."""
    roles = set(roles)
    if not roles & {"worker", "orchestrator", "planner"}:
        return McpServers(McpFile(), registry)
    config = load_mcp_config(settings.mcp_config_path)
    redact.add(config.filled)  # header tokens and env secrets never reach errors, events or logs
    return McpServers(config, registry, hold_sessions="worker" in roles)
