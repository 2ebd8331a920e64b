"""The Policy Gate service: task.ready -> task.allowed | task.blocked (with the reason)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from planwright.core import names
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import consume
from planwright.core.messages import Message, TaskAllowed, TaskBlocked, TaskNeedsApproval, TaskReady
from planwright.core.policy import PolicyStore


class PolicyService:
    def __init__(self, bus: Bus, policy: PolicyStore, mode: str) -> None:
        self.bus = bus
        self.policy = policy
        self.mode = mode

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        out: list[Message] = []
        for d in deliveries:
            msg = d.message
            if not isinstance(msg, TaskReady):
                continue
            ident = msg.ident()
            decision = self.policy.engine.decide(self.mode, msg.tool, msg.args)
            if decision.needs_approval:
                out.append(TaskNeedsApproval(**ident, rule=decision.rule, reason=decision.reason))
            elif decision.allowed:
                out.append(TaskAllowed(**ident, rule=decision.rule, reason=decision.reason))
            else:
                out.append(TaskBlocked(**ident, rule=decision.rule, reason=decision.reason))
        await self.bus.publish(names.ORCHESTRATOR, out)

    async def run(self, stop: asyncio.Event, consumer: str = "policy-1", *, max_deliveries: int = 5) -> None:
        await consume(
            self.bus,
            [names.READY],
            names.G_POLICY,
            consumer,
            self.handle,
            stop,
            max_deliveries=max_deliveries,
        )
