"""The Planner service: job.created -> plan.started, then plan.created or plan.failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from planwright.core import names, tracing
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import consume, handling
from planwright.core.messages import JobCreated, Message, PlanCreated, PlanFailed, PlanStarted
from planwright.core.planning.llm import PlanOutcome
from planwright.core.redact import redact

log = logging.getLogger(__name__)


class Planner(Protocol):
    name: str

    async def plan_job(self, goal: str, context: dict[str, Any]) -> PlanOutcome: ...


class PlannerService:
    def __init__(self, bus: Bus, planner: Planner) -> None:
        self.bus = bus
        self.planner = planner
        self.name = planner.name

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        out: list[Message] = []
        for d in deliveries:
            msg = d.message
            if not isinstance(msg, JobCreated):
                continue
            with handling("plan", msg, planner=self.name) as span:
                out.extend(await self._plan(msg, span))
        # Acked only after this publish: a crash before it means the job is planned again, and the
        # orchestrator ignores a second plan for a job that is already running.
        await self.bus.publish(names.ORCHESTRATOR, out)

    async def _plan(self, msg: JobCreated, span: tracing.Span) -> list[Message]:
        started = PlanStarted(job_id=msg.job_id, planner=self.name)
        outcome = await self.planner.plan_job(msg.goal, msg.context)
        span.set_attribute("planwright.planned_by", outcome.planner)
        span.set_attribute("planwright.llm_calls", len(outcome.calls))
        if outcome.plan is None:
            reason = redact(outcome.reason or "no plan")  # a provider's error may echo its key
            tracing.failed(span, reason)
            log.info("planning failed (%s): %s", outcome.planner, reason)
            return [started, PlanFailed(job_id=msg.job_id, reason=reason, llm_calls=outcome.calls)]
        span.set_attribute("planwright.tasks", len(outcome.plan.tasks))
        log.info("planned %d task(s) with the %s planner", len(outcome.plan.tasks), outcome.planner)
        created = PlanCreated(
            job_id=msg.job_id,
            plan=outcome.plan,
            planner=outcome.planner,
            notes=[redact(note) for note in outcome.notes],
            llm_calls=outcome.calls,
        )
        return [started, created]

    async def run(self, stop: asyncio.Event, consumer: str = "planner-1", *, max_deliveries: int = 5) -> None:
        await consume(
            self.bus,
            [names.JOBS],
            names.G_PLANNER,
            consumer,
            self.handle,
            stop,
            count=64,
            max_deliveries=max_deliveries,
        )
