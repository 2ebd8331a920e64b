"""The Critic service: task.review -> critic.verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from planwright.core import names
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import consume
from planwright.core.critic import Submission, review
from planwright.core.messages import CriticVerdict, Message, TaskReview
from planwright.core.tool_registry import ToolRegistry


class CriticService:
    def __init__(self, bus: Bus, registry: ToolRegistry, artifacts: ArtifactStore) -> None:
        self.bus = bus
        self.registry = registry
        self.artifacts = artifacts

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        out: list[Message] = []
        for d in deliveries:
            msg = d.message
            if isinstance(msg, TaskReview):
                verdict = review(await self._submission(msg))
                ident = msg.ident()
                out.append(CriticVerdict(**ident, verdict=verdict.verdict, reasons=verdict.reasons))
        await self.bus.publish(names.ORCHESTRATOR, out)

    async def _submission(self, msg: TaskReview) -> Submission:
        found = matches = None
        sha = msg.output.get("sha256")
        if isinstance(sha, str):
            found = await asyncio.to_thread(lambda: self.artifacts.path_for(sha).is_file())
            matches = found and await asyncio.to_thread(self.artifacts.verify, sha)
        spec = self.registry.get(msg.tool) if msg.tool in self.registry else None
        return Submission(
            tool=msg.tool,
            title=msg.title,
            goal=msg.goal,
            args=msg.args,
            output=msg.output,
            output_model=spec.output_model if spec else None,
            artifact_found=found,
            artifact_matches=matches,
        )

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
