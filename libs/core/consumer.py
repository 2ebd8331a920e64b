"""The consume loop every service shares: read a batch, handle it, ack it once its effects are durable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from planwright.core import logs, names, outage, tracing
from planwright.core.bus.base import Bus, Delivery
from planwright.core.messages import Message, PlanFailed, PlanReplanned, PlanReplanRequested, TaskFailed

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Delivery]], Awaitable[None]]


def handling(
    name: str, message: Message, **attributes: object
) -> contextlib.AbstractContextManager[tracing.Span]:
    """Handle one message in a span of its job's trace (the child of the span that sent it), with
    every log line inside naming its job and task. Messages built inside carry the new span."""
    task_id = getattr(message, "task_id", None)
    attrs = None
    if tracing.enabled():  # (the attributes of a span that is not recorded would be thrown away)
        attrs = {
            "planwright.job_id": message.job_id,
            "planwright.task_id": task_id,
            "planwright.attempt": getattr(message, "attempt", None),
            "messaging.message.type": message.type,
            **{f"planwright.{key}": value for key, value in attributes.items()},
        }
    span = tracing.span(name, message.trace, attrs, kind=tracing.SpanKind.CONSUMER)
    return logs.bound_in(span, job_id=message.job_id, task_id=task_id)


MAX_BACKOFF_S = 5.0


def failure_for(message: Message, reason: str) -> Message:
    """What to tell the Orchestrator when a message is given up on, so its job does not hang.

    A task's message fails that task (whatever step it was at); any other fails the job's planning,
    which the Orchestrator ignores once the job is past planning.
    """
    task_id = getattr(message, "task_id", None)
    attempt = getattr(message, "attempt", None)
    trace = dict(message.trace)  # the failure belongs to the same trace as the work it ends
    if task_id is not None and attempt is not None:
        return TaskFailed(job_id=message.job_id, task_id=task_id, attempt=attempt, error=reason, trace=trace)
    if isinstance(message, PlanReplanRequested):  # the replan round ends without a plan
        return PlanReplanned(
            job_id=message.job_id,
            version=message.version,
            round=message.round,
            plan=None,
            planner="unknown",
            reason=reason,
            trace=trace,
        )
    return PlanFailed(job_id=message.job_id, reason=reason, trace=trace)


# The ids a message names, read from its JSON text without decoding it: ``encode`` writes them first.
_UUID = rb'"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"'
_JOB_ID = re.compile(rb'"job_id"\s*:\s*' + _UUID)
_TASK_ID = re.compile(rb'"task_id"\s*:\s*' + _UUID)
_ATTEMPT = re.compile(rb'"attempt"\s*:\s*([1-9][0-9]{0,8})\b')
_SALVAGE_SCAN = 4096  # the ids come first; a hostile payload's tail is never searched


def failure_for_payload(payload: bytes | str, reason: str) -> Message | None:
    """What to tell the Orchestrator about a payload that does not decode as a message (an outbox
    row or a stream entry), so the work it stood for fails instead of waiting forever: ``task.failed``
    if it names a task and attempt, ``plan.failed`` if it names only a job, None if it names none."""
    head = (payload.encode(errors="replace") if isinstance(payload, str) else payload)[:_SALVAGE_SCAN]
    job = _JOB_ID.search(head)
    if job is None:
        return None
    job_id = UUID(job.group(1).decode())
    task, attempt = _TASK_ID.search(head), _ATTEMPT.search(head)
    if task is not None and attempt is not None:
        task_id = UUID(task.group(1).decode())
        return TaskFailed(
            job_id=job_id, task_id=task_id, attempt=int(attempt.group(1)), error=reason, trace={}
        )
    return PlanFailed(job_id=job_id, reason=reason, trace={})


def undecodable(exc: BaseException) -> str:
    """The reason a payload is dead-lettered, short: pydantic's first error, or the exception's type."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        with contextlib.suppress(Exception):
            first = errors()[0]
            where = ".".join(map(str, first["loc"]))[:200]
            return f"undecodable message: {first['msg']}" + (f" (at {where})" if where else "")
    return f"undecodable message: {type(exc).__name__}"


async def give_up(bus: Bus, group: str, delivery: Delivery) -> None:
    """Dead-letter a message that was delivered too often, and fail the work it stood for."""
    reason = (
        f"gave up after {delivery.deliveries - 1} deliveries to {group}: "
        "each time the consumer crashed, timed out or could not handle it"
    )
    await bus.publish(names.ORCHESTRATOR, [failure_for(delivery.message, reason)])
    await bus.dead_letter(group, delivery, reason)


async def read_batch(
    bus: Bus,
    streams: Sequence[str],
    group: str,
    consumer: str,
    *,
    count: int,
    block_s: float,
    max_deliveries: int,
    ack: Sequence[Delivery] = (),
) -> list[Delivery]:
    """One read (acking ``ack`` first, in the same round trip); messages past ``max_deliveries`` are
    given up on instead of returned."""
    batch = await bus.read(streams, group, consumer, count=count, block_s=block_s, ack=ack)
    keep = []
    for d in batch:
        if d.deliveries > max_deliveries:
            await give_up(bus, group, d)
        else:
            keep.append(d)
    return keep


class Reader:
    """A consume loop's reads, through outages: ``read`` returns the next batch (messages past
    ``max_deliveries`` given up on), or None once it has waited out a read that failed because the bus
    is away; the outage is logged when it starts and when it ends, the waits double up to 5 s."""

    def __init__(
        self,
        bus: Bus,
        streams: Sequence[str],
        group: str,
        consumer: str,
        *,
        max_deliveries: int,
        name: str = "",
    ) -> None:
        self.bus, self.streams, self.group, self.consumer = bus, streams, group, consumer
        self.max_deliveries = max_deliveries
        self._outage = outage.Outage(name or group, "reading again until it answers", logger=log)
        self._backoff = 0.1

    async def read(
        self, *, count: int, block_s: float, ack: Sequence[Delivery] = ()
    ) -> list[Delivery] | None:
        """One read (acking ``ack`` first, in the same round trip); None if the bus could not be read."""
        try:
            batch = await read_batch(
                self.bus,
                self.streams,
                self.group,
                self.consumer,
                count=count,
                block_s=block_s,
                max_deliveries=self.max_deliveries,
                ack=ack,
            )
        except Exception as exc:
            if not outage.unavailable(exc):
                raise
            self._outage.failed(exc)
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
            return None
        self._outage.recovered()
        self._backoff = 0.1
        return batch


async def consume(
    bus: Bus,
    streams: Sequence[str],
    group: str,
    consumer: str,
    handle: Handler,
    stop: asyncio.Event,
    *,
    count: int = 100,
    block_s: float = 0.5,
    max_deliveries: int = 5,
) -> None:
    """Run until ``stop`` is set.

    When the database or Redis is unavailable (``outage.unavailable``), the batch is held (and
    heartbeated) and retried with backoff: an outage is nobody's message's fault, so it uses up no
    delivery. Each outage is logged once when it starts and once when it ends. A batch whose handler
    fails otherwise is retried one message at a time, so one bad message cannot hold back the others;
    a message that keeps failing is not acked, comes back after the visibility timeout, and is
    dead-lettered after ``max_deliveries``.
    """
    reader = Reader(bus, streams, group, consumer, max_deliveries=max_deliveries)
    done: Sequence[Delivery] = ()  # handled, to be acked with the next read (one round trip for both)
    handling = outage.Outage(group, logger=log)
    try:
        while not stop.is_set():
            batch = await reader.read(count=count, block_s=block_s, ack=done)
            if batch is None:
                continue  # (the acks go with the next read)
            done = ()
            if batch and await _handle_through_outages(bus, group, consumer, handle, batch, stop, handling):
                done = batch
    finally:
        if done:  # stopping: ack what was handled (if this fails, it is redelivered and found done)
            with contextlib.suppress(Exception):
                await bus.ack(group, done)


async def _handle_through_outages(
    bus: Bus,
    group: str,
    consumer: str,
    handle: Handler,
    batch: Sequence[Delivery],
    stop: asyncio.Event,
    held: outage.Outage,
) -> bool:
    """Handle ``batch``; True when all of it may be acked (failures were isolated and left pending)."""
    backoff = 0.2
    while True:
        try:
            await handle(batch)
            held.recovered()
            return True
        except Exception as exc:
            if not outage.unavailable(exc):
                return await _isolate(bus, group, consumer, handle, batch, stop, held)
            if stop.is_set():
                return False  # left pending: another consumer reclaims it
            held.failed(exc, f"holding {len(batch)} message(s) and retrying until it answers")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            with outage.ignored():
                await bus.touch(group, consumer, batch)


async def _isolate(
    bus: Bus,
    group: str,
    consumer: str,
    handle: Handler,
    batch: Sequence[Delivery],
    stop: asyncio.Event,
    held: outage.Outage,
) -> bool:
    """After a failure that is no outage: handle the batch one message at a time, acking each that
    succeeds; one that fails alone is left pending (redelivered after the visibility timeout)."""
    if len(batch) == 1:
        log.exception("%s: handling %s failed; it will be redelivered", group, batch[0].message.type)
        return False
    for delivery in batch:
        if await _handle_through_outages(bus, group, consumer, handle, [delivery], stop, held):
            await bus.ack(group, [delivery])
    return False
