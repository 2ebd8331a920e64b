"""The MCP manager against real fixture servers (tests/mcp_servers/notes.py) over stdio and HTTP."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from planwright.core import redact
from planwright.core.artifacts import ArtifactStore
from planwright.core.errors import ConfigError, RetryableToolError, ToolError
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.mcp_client import TEXT_OUTPUT_SCHEMA
from planwright.core.mcp_config import McpFile, load_mcp_config
from planwright.core.mcp_servers import McpServers, mcp_servers
from planwright.core.settings import Settings
from planwright.core.tool_registry import ToolCall, ToolRegistry
from planwright.core.tools_builtin import default_registry
from tests.mcp_servers.support import (
    alive,
    eventually,
    free_port,
    notes_children,
    notes_over_http,
    stdio_entry,
)

pytestmark = pytest.mark.timeout(120)  # generous: every wait below has its own, clearer, ceiling


class Calls:
    """Makes ToolCalls, and keeps the progress they report."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.progress: list[str] = []

    async def report(self, message: str) -> None:
        self.progress.append(message)

    def __call__(self, args: dict[str, Any], timeout_s: float | None = None) -> ToolCall:
        return ToolCall(
            job_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            attempt=1,
            goal="test",
            args=args,
            inputs={},
            artifacts=ArtifactStore(self.root / "artifacts"),
            llm=LLMClient(MockProvider()),
            progress=self.report,
            timeout_s=timeout_s,
        )


@pytest.fixture
def call(tmp_path: Path) -> Calls:
    return Calls(tmp_path)


async def started(mcp: McpServers, **expected: str) -> McpServers:
    """``mcp`` started, once each named server has the status given (a loaded machine may be slow)."""
    await mcp.start()
    now = lambda: {s.name: s.status for s in mcp.statuses() if s.name in expected}  # noqa: E731
    await eventually(lambda: now() == expected, lambda: f"the servers to be {expected} (they are {now()})")
    return mcp


def manager(servers: dict[str, Any], registry: ToolRegistry | None = None, **options: Any) -> McpServers:
    config = McpFile.model_validate({"servers": servers})
    return McpServers(config, registry or ToolRegistry(), **options)


def status(mcp: McpServers, name: str) -> str:
    return next(s.status for s in mcp.statuses() if s.name == name)


async def test_a_stdio_servers_tools_join_the_registry_and_run(call):
    registry = default_registry()
    mcp = await started(manager({"notes": stdio_entry(timeout_s=20)}, registry), notes="connected")
    try:
        (notes,) = mcp.statuses()
        assert (notes.name, notes.transport, notes.status, notes.error) == (
            "notes",
            "stdio",
            "connected",
            None,
        )
        assert notes.tools == 6
        assert notes.since is not None
        names = ["mcp.notes.add", "mcp.notes.crash", "mcp.notes.echo", "mcp.notes.fail", "mcp.notes.pid"]
        assert set(names) < set(registry.names())
        assert "text_generate" in registry  # the other tools stay
        add = registry.get("mcp.notes.add")
        assert (add.description, add.source, add.timeout_s, add.side_effects) == (
            "Add two integers.",
            "mcp:notes",
            20,
            False,  # the server marks it read-only
        )
        assert add.args_schema["properties"] == {
            "a": {"title": "A", "type": "integer"},
            "b": {"title": "B", "type": "integer"},
        }
        assert add.args_schema["required"] == ["a", "b"]
        assert add.output_schema["properties"] == {"total": {"title": "Total", "type": "integer"}}
        assert registry.get("mcp.notes.echo").output_schema == TEXT_OUTPUT_SCHEMA  # none of its own
        assert registry.get("mcp.notes.fail").side_effects is True  # no read-only hint
        assert registry.validate_args("mcp.notes.add", {"a": 1}) == ["args: 'b' is a required property"]

        assert await registry.run(call({"a": 2, "b": 3}), "mcp.notes.add") == {"total": 5}
        assert await registry.run(call({"text": "hi"}), "mcp.notes.echo") == {
            "text": "hi",
            "content": [{"type": "text", "text": "hi"}],
        }
        with pytest.raises(ToolError) as failed:
            await registry.run(call({"message": "no such note"}), "mcp.notes.fail")
        assert not isinstance(failed.value, RetryableToolError)
        assert str(failed.value) == "Error executing tool fail: no such note"
        # A call cut off by its timeout (the policy's, here) is retryable, and the session goes on.
        with pytest.raises(RetryableToolError, match=r"tool 'mcp.notes.sleep' timed out after 0.3s"):
            await registry.run(call({"seconds": 10}, timeout_s=0.3), "mcp.notes.sleep")
        assert await registry.run(call({"seconds": 0}), "mcp.notes.sleep") == {
            "text": "slept 0s",
            "content": [{"type": "text", "text": "slept 0s"}],
        }
        assert call.progress[-1] == "falling asleep"  # the server's progress, as the task's
        assert status(mcp, "notes") == "connected"
    finally:
        await mcp.close()


async def test_a_lost_connection_fails_retryably_then_the_session_comes_back_and_close_reaps(call):
    registry = ToolRegistry()
    mcp = await started(manager({"notes": stdio_entry()}, registry), notes="connected")
    try:
        first = (await registry.run(call({}), "mcp.notes.pid"))["result"]
        assert alive(first)
        with pytest.raises(RetryableToolError, match="MCP server 'notes': Connection closed"):
            await registry.run(call({}), "mcp.notes.crash")  # the server exits mid-call
        assert "mcp.notes.pid" in registry  # still listed while it reconnects

        async def answered_by_another() -> bool:
            try:
                pid = (await registry.run(call({}), "mcp.notes.pid"))["result"]
            except RetryableToolError:  # (a slow machine: still reconnecting after CALL_WAIT_S)
                return False
            return bool(pid != first)

        await eventually(answered_by_another, "a new session to answer")
        second = (await registry.run(call({}), "mcp.notes.pid"))["result"]
        assert status(mcp, "notes") == "connected"
        assert notes_children() == [second]
    finally:
        await mcp.close()
    assert notes_children() == []
    assert not alive(first)
    assert not alive(second)


async def test_a_server_down_at_start_stops_nothing_and_its_tools_appear_when_it_comes_up(
    call, monkeypatch, tmp_path
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    servers = {
        "web": {"transport": "http", "url": url, "headers": {"Authorization": "Bearer ${NOTES_TEST_TOKEN}"}},
        "wrongkey": {"transport": "http", "url": url, "headers": {"Authorization": "Bearer nope"}},
        "local": stdio_entry(),
    }
    path = tmp_path / "mcp.yaml"
    path.write_text(yaml.safe_dump({"servers": servers}))
    monkeypatch.setenv("NOTES_TEST_TOKEN", "s3cret-token")
    registry = ToolRegistry()
    mcp = McpServers(load_mcp_config(path), registry, backoff_max_s=0.5)
    await started(mcp, web="down", local="connected")
    try:
        web = next(s for s in mcp.statuses() if s.name == "web")
        assert (web.status, web.error, web.tools) == (
            "down",
            "ConnectError: All connection attempts failed",
            0,
        )
        assert not any(name.startswith("mcp.web.") for name in registry.names())
        assert await registry.run(call({"a": 1, "b": 1}), "mcp.local.add") == {"total": 2}
        # A task for it (planned by a process that reached the server) is retried, not failed.
        with pytest.raises(RetryableToolError) as caught:
            await registry.run(call({"a": 1, "b": 1}), "mcp.web.add")
        assert str(caught.value) == (
            "MCP server 'web' is down here: ConnectError: All connection attempts failed; "
            "mcp.web.add is not listed yet"
        )
        for unknown in ("mcp.local.nothing", "mcp.elsewhere.add"):  # connected, or not configured
            with pytest.raises(ToolError, match=f"unknown tool '{re.escape(unknown)}'"):
                await registry.run(call({}), unknown)

        with notes_over_http(port, token="s3cret-token"):  # wants the header ${NOTES_TEST_TOKEN} fills
            await eventually(lambda: status(mcp, "web") == "connected", "server 'web' to connect")
            assert await registry.run(call({"a": 4, "b": 5}), "mcp.web.add") == {"total": 9}
            # The same server with the wrong key stays down, and says why.
            await eventually(
                lambda: _error(mcp, "wrongkey") != "ConnectError: All connection attempts failed",
                "server 'wrongkey' to be refused",
            )
            assert status(mcp, "wrongkey") == "down"
            assert "mcp.wrongkey.add" not in registry
        # The HTTP server is gone: its tools stay listed, and fail retryably.
        with pytest.raises(RetryableToolError, match="MCP server 'web'"):
            await registry.run(call({"a": 1, "b": 1}), "mcp.web.add")
        await eventually(lambda: status(mcp, "web") == "down", "the loss of server 'web' to show")
        assert "mcp.web.add" in registry
        with pytest.raises(RetryableToolError, match="MCP server 'web' is down: "):
            await registry.run(call({"a": 1, "b": 1}), "mcp.web.add")
    finally:
        await mcp.close()


async def test_a_process_that_only_reads_the_catalog_lists_tools_and_holds_no_session(call):
    registry = ToolRegistry()
    mcp = await started(manager({"notes": stdio_entry()}, registry, hold_sessions=False), notes="connected")
    try:
        assert status(mcp, "notes") == "connected"
        assert "mcp.notes.add" in registry
        assert notes_children() == []  # the server ran only to list its tools
        with pytest.raises(ToolError, match="only lists MCP server 'notes''s tools; workers run them"):
            await registry.run(call({"a": 1, "b": 2}), "mcp.notes.add")
    finally:
        await mcp.close()


def test_which_processes_connect(tmp_path):
    bad = tmp_path / "mcp.yaml"
    bad.write_text("servers:\n  notes: {transport: stdio, command: x, colour: blue}\n")
    settings = Settings(_env_file=None, mcp_config_path=bad)
    assert mcp_servers(settings, ToolRegistry(), ("policy", "critic")).statuses() == []  # never read
    assert mcp_servers(settings, ToolRegistry(), ()).statuses() == []
    for roles in (("worker",), ("orchestrator",), ("planner",)):
        with pytest.raises(ConfigError, match=r"servers\.notes\.colour: Extra inputs are not permitted"):
            mcp_servers(settings, ToolRegistry(), roles)
    good = tmp_path / "good.yaml"
    good.write_text("servers:\n  notes: {transport: stdio, command: x}\n")
    settings = Settings(_env_file=None, mcp_config_path=good)
    assert mcp_servers(settings, ToolRegistry(), ("worker", "planner")).hold_sessions
    assert not mcp_servers(settings, ToolRegistry(), ("orchestrator",)).hold_sessions


def _error(mcp: McpServers, name: str) -> str | None:
    return next(s.error for s in mcp.statuses() if s.name == name)


def test_secrets_filled_from_the_environment_are_masked_everywhere(tmp_path, monkeypatch):
    path = tmp_path / "mcp.yaml"
    servers = {
        "web": {"transport": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-Key": "${WEB_KEY}"}}
    }
    path.write_text(yaml.safe_dump({"servers": servers}))
    monkeypatch.setenv("WEB_KEY", "k3y-from-env")
    settings = Settings(_env_file=None, mcp_config_path=path)
    try:
        mcp_servers(settings, ToolRegistry(), ("worker",))
        assert redact.redact("the server said: bad key k3y-from-env") == "the server said: bad key [redacted]"
    finally:
        redact.install(Settings(_env_file=None))
    assert redact.redact("k3y-from-env") == "k3y-from-env"
