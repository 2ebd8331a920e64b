"""A small MCP server for tests, written with the SDK's MCPServer (FastMCP in mcp 1.x).

    python tests/mcp_servers/notes.py                    # over stdio
    python tests/mcp_servers/notes.py --http 8123        # streamable HTTP on 127.0.0.1:8123/mcp
    python tests/mcp_servers/notes.py --http 8123 --token s3cret   # "Authorization: Bearer s3cret" only

Its tools cover each kind of answer: structured (``add``), plain text (``echo``), a tool error
(``fail``), a slow call with progress (``sleep``), a lost connection (``crash``: the process exits
mid-call) and ``pid`` (which process answered).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel

server = MCPServer("notes", log_level="WARNING")


class Sum(BaseModel):
    total: int


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> Sum:
    """Add two integers."""
    return Sum(total=a + b)


@server.tool(structured_output=False, annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def fail(message: str) -> str:
    """Always fail with the message."""
    raise ToolError(message)


@server.tool(structured_output=False)
async def sleep(seconds: float, ctx: Context) -> str:
    """Wait, then say so (reporting progress on the way)."""
    await ctx.report_progress(0, 1, "falling asleep")
    await asyncio.sleep(seconds)
    return f"slept {seconds:g}s"


@server.tool()
def crash() -> str:
    """Exit the server process at once (the caller loses its connection)."""
    os._exit(3)


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


def serve_http(port: int, token: str | None) -> None:
    import uvicorn
    from starlette.types import ASGIApp, Receive, Scope, Send

    app = server.streamable_http_app()

    def guarded(inner: ASGIApp) -> ASGIApp:
        async def check(scope: Scope, receive: Receive, send: Send) -> None:
            headers = dict(scope.get("headers", []))
            if scope["type"] == "http" and headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
            await inner(scope, receive, send)

        return check

    uvicorn.run(guarded(app) if token else app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, help="serve streamable HTTP on this port (default: stdio)")
    parser.add_argument("--token", help="HTTP only: the bearer token a client must send")
    options = parser.parse_args()
    if options.http:
        serve_http(options.http, options.token)
    else:
        server.run()
