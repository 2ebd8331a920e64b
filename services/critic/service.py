"""The Critic service: task.review -> critic.verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from planwright.core import names
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import consume
from planwright.core.critic import review
from planwright.core.messages import CriticVerdict, Message, TaskReview


class CriticService:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        out: list[Message] = []
        for d in deliveries:
            msg = d.message
            if isinstance(msg, TaskReview):
                v = review(msg.tool, msg.output)
                out.append(
                    CriticVerdict(
                        job_id=msg.job_id,
                        task_id=msg.task_id,
                        attempt=msg.attempt,
                        verdict=v.verdict,
                        reasons=v.reasons,
                    )
                )
        await self.bus.publish(names.ORCHESTRATOR, out)

    async def run(self, stop: asyncio.Event, consumer: str = "critic-1", *, max_deliveries: int = 5) -> None:
        await consume(
            self.bus,
            [names.REVIEW],
            names.G_CRITIC,
            consumer,
            self.handle,
            stop,
            max_deliveries=max_deliveries,
        )
