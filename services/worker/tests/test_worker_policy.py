"""The worker's own policy check (defence in depth) and the policy's limits on a tool call."""

from __future__ import annotations

import asyncio
import uuid

from planwright.core import names
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus import MemoryBus
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.messages import Message, TaskCompleted, TaskDispatch, TaskFailed
from planwright.core.policy import PolicyStore
from planwright.core.tools_builtin import default_registry
from planwright.services.worker.service import Worker

POLICY = """
environments:
  prod:
    allowed_tools: [text_generate, http_fetch]
    denied_tools:
      file_write_artifact: no files in prod
    tools:
      http_fetch:
        allowed_domains: [127.0.0.1]
        allow_private_networks: [127.0.0.0/8]
        allowed_ports: [{port}]
        max_response_bytes: 10
"""


async def run_one(tmp_path, tool, args, *, write_policy=True, port=1):
    if write_policy:
        (tmp_path / "policy.yaml").write_text(POLICY.format(port=port))
    bus = MemoryBus()
    worker = Worker(
        bus,
        default_registry(),
        ArtifactStore(tmp_path / "a"),
        LLMClient(MockProvider()),
        policy=PolicyStore(tmp_path / "policy.yaml"),
        policy_mode="prod",
    )
    dispatch = TaskDispatch(
        job_id=uuid.uuid4(), task_id=uuid.uuid4(), attempt=1, key="k", tool=tool, args=args, goal="g"
    )
    await bus.publish(names.dispatch_lane(1), [dispatch])  # injected straight onto the dispatch stream
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    out: list[Message] = []
    async with asyncio.timeout(5):
        while not out or not isinstance(out[-1], TaskCompleted | TaskFailed):
            out += [d.message for d in await bus.read([names.ORCHESTRATOR], "t", "t", count=10, block_s=1)]
    stop.set()
    await bus.close()
    await task
    return out


async def test_an_injected_forbidden_task_is_refused_before_the_tool_runs(tmp_path):
    out = await run_one(tmp_path, "file_write_artifact", {"name": "x.md", "content": "secret"})
    assert [m.type for m in out] == ["task.failed"]  # never started
    assert (
        out[0].error
        == "refused by policy at the worker: tool 'file_write_artifact' is denied in prod: no files in prod"
    )
    assert not (tmp_path / "a").exists()  # nothing was written


async def test_a_domain_outside_the_allowlist_is_refused(tmp_path):
    out = await run_one(tmp_path, "http_fetch", {"url": "http://localhost:1/"})
    assert "is not an allowed domain for http_fetch in prod" in out[-1].error


async def test_the_policy_caps_what_http_fetch_reads(tmp_path):
    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n" + b"x" * 40)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        out = await run_one(tmp_path, "http_fetch", {"url": f"http://127.0.0.1:{port}/"}, port=port)
    assert isinstance(out[-1], TaskCompleted)
    assert (out[-1].output["bytes"], out[-1].output["truncated"]) == (10, True)


async def test_the_policys_timeout_is_tighter_than_the_tools(tmp_path):
    release = asyncio.Event()
    writers = []

    async def slow(reader, writer):
        writers.append(writer)
        await release.wait()  # answers nothing until the test is over
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    (tmp_path / "policy.yaml").write_text(
        POLICY.format(port=port).replace("max_response_bytes: 10", "timeout_s: 0.2")
    )
    async with server:
        out = await run_one(tmp_path, "http_fetch", {"url": f"http://127.0.0.1:{port}/"}, write_policy=False)
        release.set()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
    assert isinstance(out[-1], TaskFailed)
    assert (out[-1].error, out[-1].retryable) == ("tool 'http_fetch' timed out after 0.2s", True)
