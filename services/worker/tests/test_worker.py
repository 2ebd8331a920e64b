"""The executor worker on the in-process bus: what it reports for each kind of outcome."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from planwright.core import names
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus import MemoryBus
from planwright.core.errors import RetryableToolError
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.messages import TaskCompleted, TaskDispatch, TaskFailed
from planwright.core.tool_registry import ToolCall, ToolSpec
from planwright.core.tools_builtin import default_registry
from planwright.services.worker.service import Worker


class _Args(BaseModel):
    mode: str


class _Out(BaseModel):
    ok: bool


async def _flaky(call: ToolCall, args: _Args) -> _Out:
    await call.progress(f"trying {args.mode}")
    if args.mode == "transient":
        raise RetryableToolError("upstream busy")
    if args.mode == "bug":
        raise KeyError("oops")
    if args.mode == "slow":
        await asyncio.sleep(5)
    if args.mode == "steps":
        # Past the hold: what was said so far goes out while this still runs, then each step live.
        await _gates["steps"].wait()
        for step in range(3):
            await call.progress(f"step {step}")
    return _Out(ok=True)


_gates: dict[str, asyncio.Event] = {}  # each test that uses one sets its own (an Event binds to a loop)


@pytest.fixture
def registry():
    reg = default_registry()
    reg.register(ToolSpec("flaky", "test tool", _Args, _Out, _flaky, side_effects=False, timeout_s=0.2))
    return reg


@contextlib.asynccontextmanager
async def working(
    registry, tmp_path, tool: str, args: dict[str, Any], **extra: Any
) -> AsyncIterator[tuple[MemoryBus, TaskDispatch]]:
    """A worker running on an in-process bus that holds one dispatch of ``tool``; stopped at the end."""
    bus = MemoryBus()
    worker = Worker(
        bus, registry, ArtifactStore(tmp_path), LLMClient(MockProvider()), concurrency=2, name="w-test"
    )
    dispatch = TaskDispatch(
        job_id=uuid.uuid4(), task_id=uuid.uuid4(), attempt=1, key="k", tool=tool, args=args, goal="g", **extra
    )
    await bus.publish(names.dispatch_lane(1), [dispatch])
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield bus, dispatch
    finally:
        stop.set()
        await bus.close()
        await task


def _ended(out: list[Any]) -> bool:
    return bool(out) and isinstance(out[-1], TaskCompleted | TaskFailed)


async def read_until(bus: MemoryBus, out: list[Any], done: Callable[[list[Any]], bool]) -> None:
    """Add the worker's reports to ``out`` until ``done(out)``; 5 s at the most."""
    async with asyncio.timeout(5):
        while not done(out):
            got = await bus.read([names.ORCHESTRATOR], "test", "t", count=10, block_s=1)
            out.extend(d.message for d in got)


async def run_one(registry, tmp_path, tool: str, args: dict[str, Any], **extra: Any) -> list[Any]:
    out: list[Any] = []
    async with working(registry, tmp_path, tool, args, **extra) as (bus, dispatch):
        await read_until(bus, out, _ended)
    assert all(m.attempt == 1 and m.task_id == dispatch.task_id for m in out)
    # The dispatch was acked: nobody will get it again.
    assert await bus.backlog(names.dispatch_lane(1)) == 0
    return out


async def test_success_reports_started_progress_completed(registry, tmp_path):
    out = await run_one(registry, tmp_path, "flaky", {"mode": "fine"})
    assert [m.type for m in out] == ["task.started", "task.progress", "task.completed"]
    assert out[0].worker == "w-test"
    assert out[1].message == "trying fine"
    assert out[2].output == {"ok": True}


async def test_a_slow_tool_reports_its_start_live_and_everything_in_order(registry, tmp_path):
    """The start and the first progress are held STARTED_AFTER_S, then sent while the tool runs;
    later progress follows them, and the result comes last."""
    _gates["steps"] = live = asyncio.Event()
    out: list[Any] = []
    async with working(registry, tmp_path, "flaky", {"mode": "steps"}) as (bus, _):
        # The tool waits for live, so these two can only have been sent while it was running.
        await read_until(bus, out, lambda out: len(out) >= 2)
        assert [m.type for m in out] == ["task.started", "task.progress"]
        live.set()
        await read_until(bus, out, _ended)
    assert [m.type for m in out] == ["task.started", *["task.progress"] * 4, "task.completed"]
    assert [m.message for m in out[1:5]] == ["trying steps", "step 0", "step 1", "step 2"]


async def test_transient_error_is_reported_retryable(registry, tmp_path):
    out = await run_one(registry, tmp_path, "flaky", {"mode": "transient"})
    assert isinstance(out[-1], TaskFailed)
    assert (out[-1].error, out[-1].retryable) == ("upstream busy", True)


async def test_timeout_is_retryable(registry, tmp_path):
    out = await run_one(registry, tmp_path, "flaky", {"mode": "slow"})
    assert out[-1].retryable
    assert "timed out" in out[-1].error


async def test_a_crashing_tool_fails_the_task_without_killing_the_worker(registry, tmp_path):
    out = await run_one(registry, tmp_path, "flaky", {"mode": "bug"})
    assert isinstance(out[-1], TaskFailed)
    assert not out[-1].retryable
    assert out[-1].error.startswith("tool flaky crashed: KeyError")


async def test_invalid_args_and_unknown_tools_fail_for_good(registry, tmp_path):
    bad_args = await run_one(registry, tmp_path, "flaky", {"nope": 1})
    assert isinstance(bad_args[-1], TaskFailed)
    assert not bad_args[-1].retryable
    assert "mode" in bad_args[-1].error
    unknown = await run_one(registry, tmp_path, "teleport", {})
    assert "unknown tool 'teleport'" in unknown[-1].error


async def test_backoff_is_honoured(registry, tmp_path):
    import time

    start = time.monotonic()
    await run_one(registry, tmp_path, "flaky", {"mode": "fine"}, not_before=time.time() + 0.3)
    assert time.monotonic() - start >= 0.25
