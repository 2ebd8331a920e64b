"""The LLM planner's answer as it streams: plan.progress messages, coalesced, after plan.started.

The planner otherwise sends plan.started with its plan (one publish); a streamed answer sends it
first, with the first piece of text, so the job is ``planning`` while the UI shows the plan growing.
"""

from __future__ import annotations

import functools
from uuid import UUID

from planwright.core import names
from planwright.core.bus.base import Bus
from planwright.core.llm.stream import Coalescer
from planwright.core.messages import Message, PlanProgress, PlanStarted


class PlanStream:
    """``add`` is the LLM planner's ``on_text``: each ask (attempt) streams as its own text."""

    def __init__(self, bus: Bus, job_id: UUID, started: PlanStarted | None = None) -> None:
        """``started``: sent with the first piece (a first plan); None for a replan (already planning)."""
        self.bus = bus
        self.job_id = job_id
        self.started = started
        self.started_sent = started is None
        self._attempt = 0
        self._pieces: Coalescer | None = None

    async def add(self, attempt: int, text: str) -> None:
        if attempt != self._attempt:
            await self.close()
            self._attempt, self._pieces = attempt, Coalescer(functools.partial(self._send, attempt))
        assert self._pieces is not None
        await self._pieces.add(text)

    async def close(self) -> None:
        """Send what is left; call before publishing the plan."""
        if self._pieces is not None:
            await self._pieces.close()

    async def _send(self, attempt: int, text: str) -> None:
        messages: list[Message] = [] if self.started_sent or self.started is None else [self.started]
        messages.append(PlanProgress(job_id=self.job_id, attempt=attempt, delta=text))
        await self.bus.publish(names.ORCHESTRATOR, messages)
        self.started_sent = True
