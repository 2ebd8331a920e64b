"""The Policy Gate service: task.ready -> task.allowed | task.blocked (with the reason)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from planwright.core import names, tracing
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import consume, handling
from planwright.core.messages import Message, TaskAllowed, TaskBlocked, TaskNeedsApproval, TaskReady
from planwright.core.policy import PolicyStore

log = logging.getLogger(__name__)


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
            with handling(f"policy.decide {msg.tool}", msg, tool=msg.tool, policy_mode=self.mode) as span:
                out.append(self._decide(msg, span))
        await self.bus.publish(names.ORCHESTRATOR, out)

    def _decide(self, msg: TaskReady, span: tracing.Span) -> Message:
        ident = msg.ident()
        decision = self.policy.engine.decide(self.mode, msg.tool, msg.args)
        reply: Message
        if decision.needs_approval:
            reply = TaskNeedsApproval(**ident, rule=decision.rule, reason=decision.reason)
        elif decision.allowed:
            reply = TaskAllowed(**ident, rule=decision.rule, reason=decision.reason)
        else:
            reply = TaskBlocked(**ident, rule=decision.rule, reason=decision.reason)
        span.set_attribute("planwright.decision", reply.type.removeprefix("task."))
        span.set_attribute("planwright.rule", decision.rule)
        span.set_attribute("planwright.reason", decision.reason)
        log.info(
            "%s: %s by %s (%s)", msg.tool, reply.type.removeprefix("task."), decision.rule, decision.reason
        )
        return reply

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
