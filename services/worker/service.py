"""Executor worker: takes task.dispatch messages, runs the tool under its timeout, reports the result."""

from __future__ import annotations

import asyncio
import logging
import time

from planwright.core import names
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus.base import Bus, Delivery
from planwright.core.errors import RetryableToolError, ToolError
from planwright.core.llm import LLMProvider
from planwright.core.messages import (
    Message,
    TaskCompleted,
    TaskDispatch,
    TaskFailed,
    TaskProgress,
    TaskStarted,
)
from planwright.core.tool_registry import ToolCall, ToolRegistry

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        bus: Bus,
        registry: ToolRegistry,
        artifacts: ArtifactStore,
        llm: LLMProvider,
        *,
        concurrency: int = 8,
        name: str = "worker-1",
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.artifacts = artifacts
        self.llm = llm
        self.concurrency = concurrency
        self.name = name
        self._running: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep up to ``concurrency`` tasks in flight; higher-priority lanes are read first."""
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._running)
                if free <= 0:
                    await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                    continue
                batch = await self.bus.read(
                    names.DISPATCH_LANES, names.G_WORKER, self.name, count=free, block_s=0.5
                )
                for delivery in batch:
                    task = asyncio.create_task(self._execute(delivery))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
        finally:
            if self._running:
                await asyncio.wait(self._running)

    async def _execute(self, delivery: Delivery) -> None:
        msg = delivery.message
        if not isinstance(msg, TaskDispatch):
            await self.bus.ack(names.G_WORKER, [delivery])
            return
        if msg.not_before is not None and (wait := msg.not_before - time.time()) > 0:
            await asyncio.sleep(wait)  # retry backoff
        ident = {"job_id": msg.job_id, "task_id": msg.task_id, "attempt": msg.attempt}
        await self.bus.publish(names.ORCHESTRATOR, [TaskStarted(**ident, worker=self.name)])

        async def progress(message: str) -> None:
            await self.bus.publish(names.ORCHESTRATOR, [TaskProgress(**ident, message=message)])

        call = ToolCall(
            job_id=msg.job_id,
            task_id=msg.task_id,
            attempt=msg.attempt,
            goal=msg.goal,
            args=msg.args,
            inputs=msg.inputs,
            artifacts=self.artifacts,
            llm=self.llm,
            progress=progress,
            feedback=msg.feedback,
        )
        result: Message
        try:
            output = await self.registry.run(call, msg.tool)
        except RetryableToolError as exc:
            result = TaskFailed(**ident, error=str(exc), retryable=True)
        except ToolError as exc:
            result = TaskFailed(**ident, error=str(exc))
        except Exception as exc:
            log.exception("worker: tool %s crashed on task %s", msg.tool, msg.task_id)
            result = TaskFailed(**ident, error=f"tool {msg.tool} crashed: {type(exc).__name__}: {exc}")
        else:
            result = TaskCompleted(**ident, output=output)
        await self.bus.publish(names.ORCHESTRATOR, [result])
        await self.bus.ack(names.G_WORKER, [delivery])
