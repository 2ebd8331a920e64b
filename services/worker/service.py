"""Executor worker: takes task.dispatch messages, runs the tool under its timeout, reports the result."""

from __future__ import annotations

import asyncio
import logging
import time
from uuid import UUID

from planwright.core import failpoints, metrics, names, outage, tracing
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus.base import Bus, Delivery
from planwright.core.consumer import MAX_BACKOFF_S, Reader, handling
from planwright.core.errors import CostBudgetExceeded, RetryableToolError, ToolError
from planwright.core.futures import settle
from planwright.core.llm import LLMClient, LLMError, TokenBudgetExceeded
from planwright.core.llm.stream import Coalescer
from planwright.core.messages import (
    Message,
    TaskCompleted,
    TaskDispatch,
    TaskFailed,
    TaskProgress,
    TaskStarted,
)
from planwright.core.netguard import STRICT, NetPolicy
from planwright.core.policy import PolicyStore, ToolLimits
from planwright.core.redact import redact
from planwright.core.tool_registry import ToolCall, ToolRegistry

log = logging.getLogger(__name__)

# How long a tool's start and progress are held back to be sent with its result (see Worker._run).
STARTED_AFTER_S = 0.05

_Report = tuple[list[Message], Delivery, asyncio.Future[None]]


class _Reports:
    """The reports of a job's attempts that end in the same turn of the event loop, published together.

    A batch of a fan-out's dispatches ends up to ``concurrency`` instant attempts of one job in one
    turn. Their messages go out in one script call that also acknowledges all their deliveries,
    atomic as each report's own call was: one round trip, one wake-up of the Orchestrator and one
    script run in Redis instead of one per attempt. Reports of different jobs are never held for each
    other (a job's events then reach its streams as soon as they did before), and a report with no
    other attempt of its job in flight goes out at once. A batch refused for anything but an outage (a
    message that cannot be encoded, say) is sent again report by report, so only the report at fault
    fails, as before.
    """

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._waiting: dict[UUID, list[_Report]] = {}  # by job
        self._sending: set[asyncio.Task[None]] = set()

    async def publish(self, messages: list[Message], delivery: Delivery, *, alone: bool) -> None:
        """Once ``messages`` are published and ``delivery`` acknowledged; raises what the call raised.

        ``alone``: no other attempt of the job is in flight, so none can join this report and it goes
        out at once (a chain's next task waits for it). Otherwise the send runs in a task of its own
        once the steps already scheduled have run: a waiter that is cancelled (the worker stopping)
        does not cancel the others' reports.
        """
        job = delivery.message.job_id
        waiting = self._waiting.get(job)
        if alone and waiting is None:
            await self._call([(messages, delivery)])
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if waiting is None:
            waiting = self._waiting[job] = []
            sending = asyncio.ensure_future(self._send(job))
            self._sending.add(sending)
            sending.add_done_callback(self._sending.discard)
        waiting.append((messages, delivery, done))
        await done

    async def _send(self, job: UUID) -> None:
        batch = [report for report in self._waiting.pop(job, []) if not report[2].done()]  # not cancelled
        try:
            if len(batch) > 1:
                try:
                    await self._call([(messages, delivery) for messages, delivery, _ in batch])
                except Exception as exc:
                    if outage.unavailable(exc):
                        return _settle(batch, exc)
                else:
                    return _settle(batch, None)
            for messages, delivery, done in batch:  # a lone report, or a refused batch one by one
                try:
                    await self._call([(messages, delivery)])
                except Exception as exc:
                    settle(done, exc)
                else:
                    settle(done, None)
        finally:
            for _, _, done in batch:
                done.cancel()  # only if still waiting: this send was cancelled (the loop is closing)

    async def _call(self, reports: list[tuple[list[Message], Delivery]]) -> None:
        messages = [message for report, _ in reports for message in report]
        await self._bus.publish(names.ORCHESTRATOR, messages, ack=(names.G_WORKER, [d for _, d in reports]))


def _settle(batch: list[_Report], exc: Exception | None) -> None:
    for _, _, done in batch:
        settle(done, exc)


class Worker:
    def __init__(
        self,
        bus: Bus,
        registry: ToolRegistry,
        artifacts: ArtifactStore,
        llm: LLMClient,
        *,
        concurrency: int = 8,
        name: str = "worker-1",
        max_deliveries: int = 5,
        heartbeat_s: float = 30.0,
        grace_s: float = 20.0,
        demo_fault_rate: float = 0.0,
        policy: PolicyStore | None = None,
        policy_mode: str = "dev",
        guard_policy: PolicyStore | None = None,
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.artifacts = artifacts
        self.llm = llm
        self.concurrency = concurrency
        self.name = name
        self.max_deliveries = max_deliveries
        self.heartbeat_s = heartbeat_s
        self.grace_s = grace_s
        self.demo_fault_rate = demo_fault_rate
        self.policy = policy
        self.policy_mode = policy_mode
        # http_fetch's network guard applies with the gate off too: it reads its opt-ins from here.
        self.guard_policy = guard_policy or policy
        self._running: dict[asyncio.Task[None], Delivery] = {}
        self._reports = _Reports(bus)
        # Reports that could not be published are held (one outage line however many tasks wait).
        self._reporting = outage.Outage(
            f"worker {name}", "holding finished tasks' results until it answers", log
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Keep up to ``concurrency`` tasks in flight; higher-priority lanes are read first.

        On stop, in-flight tasks get ``grace_s`` to finish; the rest are cancelled and released so
        another worker takes them at once. Nothing is left running forever.
        """
        heartbeat = asyncio.create_task(self._heartbeat())
        reader = Reader(
            self.bus, names.DISPATCH_LANES, names.G_WORKER, self.name,
            max_deliveries=self.max_deliveries, name=f"worker {self.name}",
        )  # fmt: skip
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._running)
                if free <= 0:
                    stopping = asyncio.ensure_future(stop.wait())
                    await asyncio.wait([*self._running, stopping], return_when=asyncio.FIRST_COMPLETED)
                    stopping.cancel()
                    continue
                batch = await reader.read(count=free, block_s=0.5)
                if batch is None:
                    continue  # Redis is away: running tasks go on (their results are held)
                for delivery in batch:
                    task = asyncio.create_task(self._execute(delivery))
                    self._running[task] = delivery
                    task.add_done_callback(self._forget)
                if len(batch) == 1:
                    # A lone task takes its first step before the next read: an instant tool runs
                    # and reports now, not after the read's round trip to Redis. (A batch is read
                    # on at once: more work is waiting, and its tasks run while the read travels.)
                    await asyncio.sleep(0)
        finally:
            heartbeat.cancel()
            await self._drain()

    def _forget(self, task: asyncio.Task[None]) -> None:
        delivery = self._running.pop(task, None)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        # Not reported: the delivery stays pending and is run again after the visibility timeout.
        what = delivery.message.type if delivery else "a delivery"
        log.error("worker %s: handling %s failed", self.name, what, exc_info=exc)

    async def _drain(self) -> None:
        if not self._running:
            return
        _, unfinished = await asyncio.wait(self._running, timeout=self.grace_s)
        held = [self._running[t] for t in unfinished if t in self._running]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        if held:
            log.warning("worker %s: released %d unfinished task(s) for redelivery", self.name, len(held))
            await self.bus.release(names.G_WORKER, self.name, held)

    async def _heartbeat(self) -> None:
        """Tell the bus that long tasks are still alive, so no other worker reclaims them."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if self._running:
                try:
                    await self.bus.touch(names.G_WORKER, self.name, list(self._running.values()))
                except Exception as exc:
                    log.warning("worker %s: heartbeat failed: %s", self.name, exc)

    async def _execute(self, delivery: Delivery) -> None:
        msg = delivery.message
        if not isinstance(msg, TaskDispatch):
            await self.bus.ack(names.G_WORKER, [delivery])
            return
        if msg.not_before is not None and (wait := msg.not_before - time.time()) > 0:
            await asyncio.sleep(wait)  # retry backoff
        attrs = {"tool": msg.tool, "task_key": msg.key, "worker": self.name}
        with handling(f"tool {msg.tool}", msg, **attrs) as span:
            started = time.perf_counter()
            outcome, error = await self._run(msg, delivery)
            took = time.perf_counter() - started
            span.set_attribute("planwright.outcome", outcome)
            if error is not None:
                tracing.failed(span, error)
                log.info(
                    "%s %s attempt %d %s after %.2fs: %s",
                    msg.key,
                    msg.tool,
                    msg.attempt,
                    outcome,
                    took,
                    error,
                )
            else:
                log.info("%s %s attempt %d %s in %.2fs", msg.key, msg.tool, msg.attempt, outcome, took)

    async def _report(self, messages: list[Message], delivery: Delivery) -> None:
        """Publish an attempt's report and acknowledge its delivery in one atomic step (a script in
        Redis), so a published result is never run again; with the reports of the same job that
        end in the same turn (``_Reports``). While Redis cannot be reached the report is kept and
        tried again (the tool is not run again); stopping meanwhile cancels this, and the delivery is
        released for another worker."""
        backoff = 0.1
        while True:
            try:
                await self._reports.publish(messages, delivery, alone=self._alone(delivery))
            except Exception as exc:
                if not outage.unavailable(exc):
                    raise
                self._reporting.failed(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            else:
                self._reporting.recovered()
                failpoints.reach("worker.reported")
                return

    def _alone(self, delivery: Delivery) -> bool:
        """Whether no other attempt of the delivery's job is in flight here (see ``_Reports``)."""
        job = delivery.message.job_id
        return sum(1 for d in self._running.values() if d.message.job_id == job) <= 1

    def _net_policy(self, tool: str) -> NetPolicy:
        """The network guard's settings for ``tool``; ``allowed_domains`` only while the gate is on."""
        if self.guard_policy is None:
            return STRICT
        engine = self.guard_policy.engine
        return engine.net_policy(self.policy_mode, tool, with_domains=self.policy is not None)

    async def _run(self, msg: TaskDispatch, delivery: Delivery) -> tuple[str, str | None]:
        """Run one attempt and report it, acking ``delivery`` with the report; returns its outcome
        (``succeeded``, ``failed``, ``retryable`` or ``refused``) and error, for the attempt's span."""
        ident = msg.ident()
        limits = ToolLimits()
        if self.policy is not None:
            # Defence in depth: a task that reached the dispatch stream without the gate is refused too.
            engine = self.policy.engine
            decision = engine.decide(self.policy_mode, msg.tool, msg.args)
            if not decision.allowed:
                refused = TaskFailed(**ident, error=f"refused by policy at the worker: {decision.reason}")
                await self.bus.publish(names.ORCHESTRATOR, [refused], ack=(names.G_WORKER, [delivery]))
                return "refused", refused.error
            limits = engine.limits(self.policy_mode, msg.tool)
        if msg.dispatched_at is not None:
            waited = time.time() - max(msg.dispatched_at, msg.not_before or 0.0)
            lane = delivery.stream.rsplit(":", 1)[-1]
            metrics.labelled(metrics.TASK_QUEUE_WAIT, lane).observe(max(waited, 0.0))
        # What the tool says in its first STARTED_AFTER_S is held and sent with its result, so an
        # instant tool's attempt is one publish (one Orchestrator pass); a slower one is live from then.
        held: list[Message] | None = [TaskStarted(**ident, worker=self.name, delivery=delivery.deliveries)]
        releasing: asyncio.Future[None] | None = None

        def release() -> None:
            nonlocal held, releasing
            if held is not None:
                messages, held = held, None
                releasing = asyncio.ensure_future(self.bus.publish(names.ORCHESTRATOR, messages))

        async def send(update: TaskProgress) -> None:
            if held is not None:
                held.append(update)
                return
            if releasing is not None:
                await releasing  # what was held goes first
            await self.bus.publish(names.ORCHESTRATOR, [update])

        async def progress(message: str) -> None:
            await send(TaskProgress(**ident, message=redact(message)))

        async def delta(text: str) -> None:
            await send(TaskProgress(**ident, delta=text))

        # The model's streamed text, coalesced: at most ~10 task.progress a second (llm/stream.py).
        streamed = Coalescer(delta)

        # This attempt's model calls, within what is left of the job's tokens and money.
        llm = self.llm.metered(budget_tokens=msg.tokens_left, budget_usd=msg.money_left)
        call = ToolCall(
            job_id=msg.job_id,
            task_id=msg.task_id,
            attempt=msg.attempt,
            goal=msg.goal,
            args=msg.args,
            inputs=msg.inputs,
            artifacts=self.artifacts,
            llm=llm,
            progress=progress,
            on_text=streamed.add,
            context=msg.context,
            feedback=msg.feedback,
            demo_fault_rate=self.demo_fault_rate,
            timeout_s=limits.timeout_s,
            max_response_bytes=limits.max_response_bytes,
            net_policy=self._net_policy(msg.tool),
        )
        result: TaskCompleted | TaskFailed
        spent = {"llm_calls": llm.calls}
        # The tool runs in this task (an instant one in this very step); the timer lets what it
        # said so far go out once it has run STARTED_AFTER_S.
        timer = asyncio.get_running_loop().call_later(STARTED_AFTER_S, release)
        try:
            output = await self.registry.run(call, msg.tool)
        except RetryableToolError as exc:
            result = TaskFailed(**ident, error=redact(str(exc)), retryable=True, **spent)
        except CostBudgetExceeded as exc:  # refused before the call: the Orchestrator stops the job
            result = TaskFailed(**ident, error=redact(exc.message), over_budget=True, **spent)
        except (ToolError, TokenBudgetExceeded) as exc:
            result = TaskFailed(**ident, error=redact(str(exc)), **spent)
        except LLMError as exc:
            # The SDK already retried 429/5xx/connection errors; the task may still try again later.
            result = TaskFailed(**ident, error=redact(exc.message), retryable=exc.retryable, **spent)
        except Exception as exc:
            log.exception("worker: tool %s crashed on task %s", msg.tool, msg.task_id)
            error = redact(f"tool {msg.tool} crashed: {type(exc).__name__}: {exc}")
            result = TaskFailed(**ident, error=error, **spent)
        else:
            result = TaskCompleted(**ident, output=output, **spent)
        finally:
            timer.cancel()
        await streamed.close()  # the rest of the streamed text goes before the result
        if releasing is not None:
            await releasing  # the start goes before the result
        await self._report([*(held or ()), result], delivery)
        if isinstance(result, TaskCompleted):
            return "succeeded", None
        return ("retryable" if result.retryable else "failed"), result.error
