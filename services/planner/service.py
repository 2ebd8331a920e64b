"""The Planner service: job.created -> plan.started, then plan.created or plan.failed; and
plan.replan_requested -> plan.replanned (the next plan version, or why there is none)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from planwright.core import names, tracing
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import consume, handling
from planwright.core.messages import (
    JobCreated,
    Message,
    PlanCreated,
    PlanFailed,
    PlanReplanned,
    PlanReplanRequested,
    PlanStarted,
)
from planwright.core.planning.llm import PlanOutcome, PlanTextSink
from planwright.core.redact import redact
from planwright.services.planner.streaming import PlanStream

log = logging.getLogger(__name__)


class Planner(Protocol):
    name: str

    async def plan_job(
        self,
        goal: str,
        context: dict[str, Any],
        *,
        money_left: float | None = None,
        on_text: PlanTextSink | None = None,
    ) -> PlanOutcome: ...

    async def replan_job(
        self, request: PlanReplanRequested, *, on_text: PlanTextSink | None = None
    ) -> PlanOutcome: ...


class PlannerService:
    def __init__(self, bus: Bus, planner: Planner) -> None:
        self.bus = bus
        self.planner = planner
        self.name = planner.name

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        out: list[Message] = []
        for d in deliveries:
            msg = d.message
            if isinstance(msg, PlanReplanRequested):
                with handling("replan", msg, planner=self.name) as span:
                    out.append(await self._replan(msg, span))
                continue
            if not isinstance(msg, JobCreated):
                continue
            with handling("plan", msg, planner=self.name) as span:
                out.extend(await self._plan(msg, span))
        # Acked only after this publish: a crash before it means the job is planned again, and the
        # orchestrator ignores a second plan for a job that is already running.
        await self.bus.publish(names.ORCHESTRATOR, out)

    async def _plan(self, msg: JobCreated, span: tracing.Span) -> list[Message]:
        started = PlanStarted(job_id=msg.job_id, planner=self.name)
        stream = PlanStream(
            self.bus, msg.job_id, started
        )  # a model that streams its plan: the UI watches it grow
        outcome = await self.planner.plan_job(
            msg.goal, msg.context, money_left=msg.money_left, on_text=stream.add
        )
        await stream.close()
        first: list[Message] = [] if stream.started_sent else [started]  # sent with the first piece
        span.set_attribute("planwright.planned_by", outcome.planner)
        span.set_attribute("planwright.llm_calls", len(outcome.calls))
        if outcome.plan is None:
            reason = redact(outcome.reason or "no plan")  # a provider's error may echo its key
            tracing.failed(span, reason)
            log.info("planning failed (%s): %s", outcome.planner, reason)
            return [*first, PlanFailed(job_id=msg.job_id, reason=reason, llm_calls=outcome.calls)]
        span.set_attribute("planwright.tasks", len(outcome.plan.tasks))
        log.info("planned %d task(s) with the %s planner", len(outcome.plan.tasks), outcome.planner)
        created = PlanCreated(
            job_id=msg.job_id,
            plan=outcome.plan,
            planner=outcome.planner,
            notes=[redact(note) for note in outcome.notes],
            llm_calls=outcome.calls,
        )
        return [*first, created]

    async def _replan(self, msg: PlanReplanRequested, span: tracing.Span) -> Message:
        """The next plan version after a failure, or why there is none (the Orchestrator checks it)."""
        stream = PlanStream(self.bus, job_id=msg.job_id)  # the job is planning already: no plan.started
        outcome = await self.planner.replan_job(msg, on_text=stream.add)
        await stream.close()
        span.set_attribute("planwright.llm_calls", len(outcome.calls))
        if outcome.plan is None:
            log.info("replanning failed (%s): %s", outcome.planner, outcome.reason)
        return PlanReplanned(
            job_id=msg.job_id,
            version=msg.version,
            round=msg.round,
            plan=outcome.plan,
            planner=outcome.planner,
            reason=redact(outcome.reason) if outcome.reason else None,
            notes=[redact(note) for note in outcome.notes],
            llm_calls=outcome.calls,
        )

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
