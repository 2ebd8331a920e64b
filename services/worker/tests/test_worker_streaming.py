"""A worker running text_generate on the real openai SDK against the fake model server: streamed text
goes out live as coalesced task.progress deltas; the output goes once, with the result."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from planwright.core import names
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus import MemoryBus
from planwright.core.llm import LLMClient
from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.messages import TaskCompleted, TaskDispatch, TaskProgress
from planwright.core.tests.test_llm_providers import provider_for
from planwright.core.tools_builtin import default_registry
from planwright.services.worker.service import Worker


@contextlib.asynccontextmanager
async def generating(fake: FakeModelServer, tmp_path: Any) -> AsyncIterator[MemoryBus]:
    """A worker (real provider, pointed at ``fake``) holding one text_generate dispatch."""
    bus = MemoryBus()
    llm = LLMClient(provider_for("openai_compatible", fake))
    worker = Worker(bus, default_registry(), ArtifactStore(tmp_path), llm, name="w-stream", grace_s=0.1)
    dispatch = TaskDispatch(
        job_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        attempt=1,
        key="draft",
        tool="text_generate",
        args={"prompt": "Write release notes"},
        goal="g",
    )
    await bus.publish(names.dispatch_lane(1), [dispatch])
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield bus
    finally:
        stop.set()
        await bus.close()
        await task
        await llm.provider.aclose()


async def read(bus: MemoryBus, out: list[Any], until: Any) -> None:
    async with asyncio.timeout(30):  # a generous ceiling: each wait below ends on a message
        while not until(out):
            got = await bus.read([names.ORCHESTRATOR], "test", "t", count=50, block_s=1)
            out.extend(d.message for d in got)


async def test_the_first_piece_goes_out_while_the_model_is_still_writing(tmp_path):
    # The second piece comes a minute later: the first must be on the bus long before the result.
    reply = Reply.stream(["Release ", "notes"], delay_s=60)
    with FakeModelServer([reply]) as fake:
        async with generating(fake, tmp_path) as bus:
            out: list[Any] = []
            await read(bus, out, lambda o: any(isinstance(m, TaskProgress) and m.delta for m in o))
    deltas = [m.delta for m in out if isinstance(m, TaskProgress) and m.delta is not None]
    assert deltas == ["Release "]
    assert not any(isinstance(m, TaskCompleted) for m in out)
    assert out[0].type == "task.started"  # the start went first


async def test_many_pieces_become_a_few_deltas_that_add_up_to_the_output_sent_once(tmp_path):
    pieces = [f"word{n} " for n in range(150)]
    reply = Reply.stream(pieces, delay_s=0.005)
    loop = asyncio.get_running_loop()
    with FakeModelServer([reply]) as fake:
        started = loop.time()
        async with generating(fake, tmp_path) as bus:
            out: list[Any] = []
            await read(bus, out, lambda o: any(isinstance(m, TaskCompleted) for m in o))
        took = loop.time() - started
    deltas = [m.delta for m in out if isinstance(m, TaskProgress) and m.delta is not None]
    (completed,) = [m for m in out if isinstance(m, TaskCompleted)]
    assert "".join(deltas) == completed.output["text"] == "".join(pieces)
    assert 2 <= len(deltas) <= took * 10 + 3
    assert out[-1] is completed  # every delta went before the result
    (call,) = completed.llm_calls
    assert call.output_tokens > 0
