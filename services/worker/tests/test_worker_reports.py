"""The worker's reports: a job's attempts that end in the same turn of the loop are published together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from planwright.core import names
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus import MemoryBus
from planwright.core.bus.base import Acks
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.messages import Message, TaskCompleted, TaskDispatch
from planwright.core.tools_builtin import default_registry
from planwright.services.worker.service import Worker


class RecordingBus(MemoryBus):
    """Records each publish to the Orchestrator that acknowledges deliveries; ``refuse`` may raise."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[list[Message], int]] = []
        self.senders: list[str] = []  # the coroutine each call was made from
        self.outages = 0  # the next calls that find Redis away
        self.poison: uuid.UUID | None = None  # a task whose report cannot be sent

    async def publish(self, stream: str, messages: Sequence[Message], *, ack: Acks | None = None) -> None:
        if stream == names.ORCHESTRATOR and ack:
            if self.outages:
                self.outages -= 1
                raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            if any(m.task_id == self.poison for m in messages if isinstance(m, TaskCompleted)):
                raise ValueError("this report cannot be encoded")
            self.calls.append((list(messages), len(ack[1])))
            task = asyncio.current_task()
            self.senders.append(task.get_coro().__qualname__ if task else "")  # type: ignore[union-attr]
        await super().publish(stream, messages, ack=ack)


FAN_OUT = uuid.uuid4()  # one job's tasks


def dispatch(n: int, job: uuid.UUID = FAN_OUT) -> TaskDispatch:
    return TaskDispatch(
        job_id=job,
        task_id=uuid.uuid4(),
        attempt=1,
        key=f"note_{n}",
        tool="text_generate",
        args={"prompt": f"Write note number {n}"},
        goal="g",
    )


async def run(bus: RecordingBus, tmp_path: Any, dispatches: list[TaskDispatch]) -> list[Message]:
    """Run a worker (concurrency 8) until every dispatch has a result; its reports, in order."""
    await bus.publish(names.dispatch_lane(1), dispatches)
    worker = Worker(
        bus, default_registry(), ArtifactStore(tmp_path), LLMClient(MockProvider()), concurrency=8, name="w"
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    out: list[Message] = []
    wanted = {d.task_id for d in dispatches} - {bus.poison}
    try:
        async with asyncio.timeout(10):  # a ceiling on waiting for every result, far above its need
            while wanted - {m.task_id for m in out if isinstance(m, TaskCompleted)}:
                got = await bus.read([names.ORCHESTRATOR], "test", "t", count=100, block_s=1)
                out.extend(d.message for d in got)
    finally:
        stop.set()
        await bus.close()
        await task
    return out


async def test_the_reports_of_one_turn_are_one_call_that_acks_every_delivery(tmp_path):
    bus = RecordingBus()
    dispatches = [dispatch(n) for n in range(6)]
    out = await run(bus, tmp_path, dispatches)
    # The six instant attempts were read in one batch and ended in one turn: one call, six acks.
    assert [acks for _, acks in bus.calls] == [6]
    assert bus.senders == ["_Reports._send"]
    assert await bus.backlog(names.dispatch_lane(1)) == 0
    # Each attempt's messages stay together and in order: started, progress, completed.
    for d in dispatches:
        at = [i for i, m in enumerate(out) if getattr(m, "task_id", None) == d.task_id]
        assert at == list(range(at[0], at[0] + len(at)))
        own = [out[i].type for i in at]
        assert own[0] == "task.started"
        assert own[-1] == "task.completed"
        assert set(own[1:-1]) <= {"task.progress"}


async def test_reports_of_different_jobs_are_not_held_for_each_other(tmp_path):
    """Each of three jobs has one attempt in flight: each report goes out at once from its own
    attempt, as it did before reports were batched (a job's streams get its events no later)."""
    bus = RecordingBus()
    await run(bus, tmp_path, [dispatch(n, job=uuid.uuid4()) for n in range(3)])
    assert [acks for _, acks in bus.calls] == [1, 1, 1]
    assert bus.senders == ["Worker._execute"] * 3


async def test_a_lone_attempts_report_goes_out_at_once_from_the_attempt_itself(tmp_path):
    """With nothing else in flight no other report can join it, so it is not held for a turn of the
    loop: a chain's next task waits for it."""
    bus = RecordingBus()
    await run(bus, tmp_path, [dispatch(1)])
    assert [acks for _, acks in bus.calls] == [1]
    assert bus.senders == ["Worker._execute"]


async def test_a_report_that_cannot_be_sent_fails_alone(tmp_path):
    """A batch refused for anything but an outage is sent again report by report: only the one at
    fault is not published (its delivery stays pending, to be run again), the others are."""
    bus = RecordingBus()
    dispatches = [dispatch(n) for n in range(4)]
    bus.poison = dispatches[2].task_id
    out = await run(bus, tmp_path, dispatches)
    assert [acks for _, acks in bus.calls] == [1, 1, 1]
    done = {m.task_id for m in out if isinstance(m, TaskCompleted)}
    assert done == {d.task_id for d in dispatches} - {bus.poison}
    pending = [s for s in await bus.stats([names.dispatch_lane(1)]) if s.group == names.G_WORKER]
    assert [s.pending for s in pending] == [1]


async def test_an_outage_holds_the_whole_batch_until_redis_is_back(tmp_path):
    bus = RecordingBus()
    bus.outages = 2
    dispatches = [dispatch(n) for n in range(5)]
    out = await run(bus, tmp_path, dispatches)
    assert sum(acks for _, acks in bus.calls) == 5
    assert {m.task_id for m in out if isinstance(m, TaskCompleted)} == {d.task_id for d in dispatches}
    assert await bus.backlog(names.dispatch_lane(1)) == 0
