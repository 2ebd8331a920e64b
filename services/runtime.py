"""Wiring: builds the shared parts once and runs the chosen services as tasks of this process.

Embedded mode runs every role here over the in-process bus; in distributed mode each
``planwright <role>`` process runs one role over Redis Streams. The service code is the same:
only the bus, the live feed and the database URL differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from uuid import UUID

from planwright.core import metrics, names, outage, redact
from planwright.core.artifacts import ArtifactStore
from planwright.core.bus import Bus, MemoryBus
from planwright.core.db.engine import ReadPool, make_engine
from planwright.core.errors import ConfigError
from planwright.core.feed import EventFeed, MemoryFeed
from planwright.core.llm import make_client
from planwright.core.mcp_servers import mcp_servers
from planwright.core.outbox import DirectOutbox, Outbox, OutboxRelay
from planwright.core.planning.llm import LLMPlanner, RulePlanning
from planwright.core.planning.rules import RuleBasedPlanner
from planwright.core.plugins import tool_catalog
from planwright.core.policy import PolicyStore
from planwright.core.retention import Pruner
from planwright.core.settings import Settings
from planwright.services.api.orchestrator import Orchestrator
from planwright.services.api.sweeper import RetentionSweeper
from planwright.services.critic.service import CriticService
from planwright.services.planner.service import Planner, PlannerService
from planwright.services.policy.service import PolicyService
from planwright.services.worker.service import Worker

log = logging.getLogger(__name__)

ROLES = ("orchestrator", "planner", "worker", "critic", "policy")
RESTART_DELAY_S = 1.0


class Runtime:
    def __init__(self, settings: Settings, roles: Iterable[str] = ROLES) -> None:
        if bool(settings.database_url) != bool(settings.redis_url):
            raise ConfigError(
                "set both DATABASE_URL and REDIS_URL for distributed mode, or neither for embedded mode"
            )
        self.settings = settings
        redact.install(settings)  # its secrets are masked in errors, events and logs from now on
        self.roles = tuple(roles)
        self.engine = make_engine(settings.db_url)
        self.reads = ReadPool(self.engine)  # the API's hottest reads (GET /jobs/{id}, event streams)
        self.bus: Bus
        self.feed: EventFeed
        if settings.redis_url is None:
            self.bus = MemoryBus(visibility_timeout_s=settings.visibility_timeout_s)
            self.feed = MemoryFeed()
        else:
            # Imported here: redis (and the OpenTelemetry SDK it loads) is for distributed mode only.
            from planwright.core.bus.redis import RedisBus
            from planwright.core.feed_redis import RedisFeed

            bus = RedisBus.from_url(
                settings.redis_url,
                prefix=settings.redis_key_prefix,
                visibility_timeout_s=settings.visibility_timeout_s,
                consumer_ttl_s=settings.consumer_ttl_s,
            )
            self.bus = bus
            self.feed = RedisFeed(
                settings.redis_url,
                self.engine,
                prefix=settings.redis_key_prefix,
                reads=self.reads,
                connection=bus.connection,  # a commit's announcement and messages: one write
            )
        # Load the policy now so that an invalid file stops the process at start, not mid-run.
        self.policy = PolicyStore(settings.policy_config_path) if settings.policy_gate_enabled else None
        # http_fetch's network guard reads its opt-ins from the file with the gate off too, and so do
        # the money budgets (job.max_cost_usd, budget.daily_cost_usd).
        self.guard_policy = self.policy or PolicyStore.if_present(settings.policy_config_path)
        # Distributed: outbox rows. Embedded: straight to the in-process bus after commit (ADR 0013);
        # the relay there only publishes rows an older version left at start.
        self.relay = OutboxRelay(self.engine, self.bus)
        outbox: Outbox = DirectOutbox(self.bus) if settings.embedded else self.relay
        self.orchestrator = Orchestrator(
            self.engine, self.bus, outbox, self.feed, settings, self.policy, budgets=self.guard_policy
        )
        self.registry = tool_catalog(settings)  # an unusable plugin stops the process here
        self.orchestrator.applier.registry = self.registry  # replans are validated like any plan
        self.mcp = mcp_servers(settings, self.registry, self.roles)  # MCP servers' tools (docs/mcp.md)
        self.artifacts = ArtifactStore(settings.artifact_dir)
        # Retention (RETENTION_DAYS): every API process sweeps, one at a time per deployment (ADR 0025).
        self.sweeper = RetentionSweeper(
            Pruner(self.engine, self.artifacts, forget=self._forget), settings.retention_days
        )
        self.llm = make_client(settings)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._suffix = f"{socket.gethostname()}-{os.getpid()}"

    def _loops(self) -> dict[str, Callable[[], Awaitable[None]]]:
        s, stop, n = self.settings, self._stop, self._suffix
        dead = {"max_deliveries": s.max_deliveries}
        loops: dict[str, Callable[[], Awaitable[None]]] = {}
        if "orchestrator" in self.roles:
            loops["orchestrator"] = lambda: self.orchestrator.run(stop, f"orchestrator-{n}", **dead)
            if not s.embedded:
                loops["outbox"] = lambda: self.relay.run(stop)
            loops["reconciler"] = self._watch_epoch
            loops["queue-metrics"] = self._watch_queues
            if s.retention_days:
                loops["retention"] = lambda: self.sweeper.run(stop)
        if "planner" in self.roles:
            planner = PlannerService(self.bus, self._planner())
            loops["planner"] = lambda: planner.run(stop, f"planner-{n}", **dead)
        if "worker" in self.roles:
            worker = Worker(
                self.bus,
                self.registry,
                self.artifacts,
                self.llm,
                concurrency=s.worker_concurrency,
                name=f"worker-{n}",
                max_deliveries=s.max_deliveries,
                heartbeat_s=s.visibility_timeout_s / 4,
                grace_s=s.shutdown_grace_s,
                demo_fault_rate=s.critic_demo_fault_rate if s.critic_enabled else 0.0,
                policy=self.policy,
                policy_mode=s.policy_mode,
                guard_policy=self.guard_policy,
            )
            loops["worker"] = lambda: worker.run(stop)
        if "critic" in self.roles:
            critic = CriticService(
                self.bus, self.registry, self.artifacts, self.llm if s.critic_llm else None
            )
            loops["critic"] = lambda: critic.run(stop, f"critic-{n}", **dead)
        if "policy" in self.roles and self.policy is not None:
            gate = PolicyService(self.bus, self.policy, s.policy_mode)
            loops["policy"] = lambda: gate.run(stop, f"policy-{n}", **dead)
        return loops

    def _forget(self, job_ids: Sequence[UUID]) -> None:
        """Jobs retention deleted: out of this process's memory (other processes' copies are never
        served without the job's row, which is gone)."""
        from planwright.services.api import queries  # API processes only (the API's own imports)

        self.orchestrator.forget(job_ids)
        queries.forget_results(job_ids)

    def _planner(self) -> Planner:
        s = self.settings
        rules = RuleBasedPlanner(self.registry, max_tasks=s.plan_max_tasks)
        if s.planner_mode == "rules":
            return RulePlanning(rules)
        return LLMPlanner(
            self.llm,
            self.registry,
            max_tasks=s.plan_max_tasks,
            max_attempts=s.planner_max_attempts,
            fallback=rules if s.planner_fallback == "rule" else None,
            policy=self.policy,
            policy_mode=s.policy_mode,
        )

    async def start(self) -> None:
        self._stop.clear()
        await self.mcp.start()  # connects in the background; waits a little for the first attempts
        if "orchestrator" in self.roles:
            await self.relay.flush()  # whatever a previous run committed but never published
            await self._reconcile_if_fresh()
        for name, loop in self._loops().items():
            self._tasks.append(asyncio.create_task(self._supervise(name, loop), name=name))

    async def _reconcile_if_fresh(self) -> None:
        """If the bus started empty (a new process, or Redis lost its data), re-issue unfinished work."""
        if await self.bus.fresh_epoch():
            resumed = await self.orchestrator.reconcile()
            if resumed:
                log.info("resumed %d unfinished job(s) from the database", resumed)

    async def _watch_epoch(self) -> None:
        """The Orchestrator's clock: reconcile after Redis lost data; enforce the policy's time limits.
        While the database or Redis is away, each tick fails and the next one tries again: the outage
        is logged when it starts and when it ends, and the loop is not restarted for it."""
        away = outage.Outage("reconciler", "checking again every RECONCILE_CHECK_S until it answers", log)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.settings.reconcile_check_s)
            if self._stop.is_set():
                return
            try:
                await self._tick()
            except Exception as exc:
                if not outage.unavailable(exc):
                    raise
                away.failed(exc)
            else:
                away.recovered()

    async def _tick(self) -> None:
        await self._reconcile_if_fresh()
        if expired := await self.orchestrator.expire_approvals():
            log.info("failed %d task(s) whose approval timed out", expired)
        if unanswered := await self.orchestrator.expire_inputs():
            log.info("failed %d ask_human task(s) whose question timed out", unanswered)
        if overran := await self.orchestrator.expire_jobs():
            log.info("failed %d job(s) that ran past the policy's max runtime", overran)

    async def _watch_queues(self) -> None:
        """Refresh the stream and outbox gauges (read at scrape time) every METRICS_REFRESH_S."""
        while not self._stop.is_set():
            try:
                metrics.STREAMS.update(await self.bus.stats(names.WORK_STREAMS))
                metrics.OUTBOX_BACKLOG.set(await self.relay.backlog())
            except Exception as exc:  # the bus or database is down: keep the last values
                log.debug("queue metrics not refreshed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.settings.metrics_refresh_s)

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run a service loop; if it crashes, log it and start it again."""
        while not self._stop.is_set():
            try:
                await loop()
            except Exception:
                log.exception("%s crashed; restarting in %.0fs", name, RESTART_DELAY_S)
                await asyncio.sleep(RESTART_DELAY_S)

    def request_stop(self) -> None:
        """Ask every loop to finish (a signal handler calls this); ``stop()`` waits for them."""
        self._stop.set()

    async def stopped(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        """Stop every loop; workers get ``SHUTDOWN_GRACE_S`` to finish what they run."""
        self._stop.set()
        self.relay.kick()
        if isinstance(self.bus, MemoryBus):
            await self.bus.close()  # wakes blocked readers at once
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_s + 5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        await self.mcp.close()  # ends the sessions and their stdio child processes
        await self.feed.close()
        await self.bus.close()
        await self.llm.provider.aclose()
        await self.orchestrator.close()
        await self.relay.close()
        await self.reads.close()
        await self.engine.dispose()
