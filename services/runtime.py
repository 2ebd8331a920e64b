"""Wiring: builds the shared parts once and runs the chosen services as tasks of this process.

Embedded mode runs every role here over the in-process bus; in distributed mode each
``planwright <role>`` process runs one role over Redis. The service code is the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable

from planwright.core.artifacts import ArtifactStore
from planwright.core.bus import Bus, MemoryBus
from planwright.core.db.engine import make_engine
from planwright.core.errors import ConfigError
from planwright.core.feed import EventFeed, MemoryFeed
from planwright.core.llm import get_provider
from planwright.core.outbox import OutboxRelay
from planwright.core.planning.rules import RuleBasedPlanner
from planwright.core.policy import PolicyEngine
from planwright.core.settings import Settings
from planwright.core.tool_registry import default_registry
from planwright.services.api.orchestrator import Orchestrator
from planwright.services.critic.service import CriticService
from planwright.services.planner.service import PlannerService
from planwright.services.policy.service import PolicyService
from planwright.services.worker.service import Worker

log = logging.getLogger(__name__)

ROLES = ("orchestrator", "planner", "worker", "critic", "policy")
RESTART_DELAY_S = 1.0


class Runtime:
    def __init__(
        self,
        settings: Settings,
        roles: Iterable[str] = ROLES,
        *,
        bus: Bus | None = None,
        feed: EventFeed | None = None,
    ) -> None:
        if bool(settings.database_url) != bool(settings.redis_url):
            raise ConfigError(
                "set both DATABASE_URL and REDIS_URL for distributed mode, or neither for embedded mode"
            )
        if not settings.embedded and bus is None:
            raise ConfigError(
                "distributed mode (DATABASE_URL and REDIS_URL set) needs the Redis bus, which this build "
                "does not include yet; unset both to run embedded with `planwright up`"
            )
        self.settings = settings
        self.roles = tuple(roles)
        self.engine = make_engine(settings.db_url)
        self.bus: Bus = bus or MemoryBus(visibility_timeout_s=settings.visibility_timeout_s)
        self.feed: EventFeed = feed or MemoryFeed()
        self.relay = OutboxRelay(self.engine, self.bus)
        self.orchestrator = Orchestrator(self.engine, self.bus, self.relay, self.feed, settings)
        self.registry = default_registry(http_fetch_max_bytes=settings.http_fetch_max_bytes)
        self.artifacts = ArtifactStore(settings.artifact_dir)
        self.llm = get_provider(settings.llm_provider)
        # Load the policy now so that an invalid file stops the process at start, not mid-run.
        self.policy = PolicyEngine.load(settings.policy_config_path) if settings.policy_gate_enabled else None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._suffix = f"{os.getpid()}"

    def _loops(self) -> dict[str, Callable[[], Awaitable[None]]]:
        s, stop = self.settings, self._stop
        loops: dict[str, Callable[[], Awaitable[None]]] = {}
        if "orchestrator" in self.roles:
            loops["orchestrator"] = lambda: self.orchestrator.run(stop, f"orchestrator-{self._suffix}")
            loops["outbox"] = lambda: self.relay.run(stop)
        if "planner" in self.roles:
            planner = PlannerService(self.bus, RuleBasedPlanner(self.registry, max_tasks=s.plan_max_tasks))
            loops["planner"] = lambda: planner.run(stop, f"planner-{self._suffix}")
        if "worker" in self.roles:
            worker = Worker(
                self.bus,
                self.registry,
                self.artifacts,
                self.llm,
                concurrency=s.worker_concurrency,
                name=f"worker-{self._suffix}",
            )
            loops["worker"] = lambda: worker.run(stop)
        if "critic" in self.roles:
            critic = CriticService(self.bus)
            loops["critic"] = lambda: critic.run(stop, f"critic-{self._suffix}")
        if "policy" in self.roles and self.policy is not None:
            gate = PolicyService(self.bus, self.policy, s.policy_mode)
            loops["policy"] = lambda: gate.run(stop, f"policy-{self._suffix}")
        return loops

    async def start(self) -> None:
        self._stop.clear()
        if "orchestrator" in self.roles:
            await self.relay.flush()  # whatever a previous run committed but never published
            if self.settings.embedded:
                # The in-process bus died with the previous process: re-issue unfinished work.
                resumed = await self.orchestrator.reconcile()
                if resumed:
                    log.info("resumed %d unfinished job(s) from the database", resumed)
        for name, loop in self._loops().items():
            self._tasks.append(asyncio.create_task(self._supervise(name, loop), name=name))

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run a service loop; if it crashes, log it and start it again."""
        while not self._stop.is_set():
            try:
                await loop()
            except Exception:
                log.exception("%s crashed; restarting in %.0fs", name, RESTART_DELAY_S)
                await asyncio.sleep(RESTART_DELAY_S)

    async def stop(self) -> None:
        self._stop.set()
        self.relay.kick()
        await self.bus.close()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        await self.engine.dispose()
