"""The API's health, checked in the background: ``GET /healthz`` answers from the last check.

Every ``interval_s`` (1 s) a loop checks each dependency, with ``timeout_s`` (2 s) for each: the
database (``SELECT 1``) and, in distributed mode, Redis (``PING`` through the bus's client). The
result is kept with the time it was taken; /healthz reads it and runs no query of its own. It is
reported unhealthy when the last check failed, or when no check has completed for ``stale_after_s``
(3 s): a loop that hangs or dies is not taken for a healthy one.

A failure is described by the dependency and a generic reason (``database unavailable: connection
refused``), never by the driver's own message, which may name hosts, users or statements. The log gets
the driver's message once per outage: each dependency's outage, as the API process meets it (here, or
in a request answered 503 by services/api/errors.py), is logged when it starts and when it ends
(``libs/core/outage.py``).

The app's lifespan starts the loop (after the first check, so the first answer is already a real
one) and stops it. An app driven without its lifespan (``httpx.ASGITransport`` in tests) has no loop:
there each /healthz call checks first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from planwright.core import outage
from planwright.core.llm.notice import MOCK_NOTICE

if TYPE_CHECKING:
    from planwright.services.runtime import Runtime

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
TIMEOUT_S = 2.0

Probe = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class HealthState:
    """One check: each dependency's verdict (``ok`` or ``unavailable``) and, if any failed, why."""

    dependencies: dict[str, str]
    checked_at: datetime  # wall clock, for people
    monotonic: float  # for the age of the check
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Health:
    """The cached health of one API process over ``runtime``; see the module's docstring."""

    runtime: Runtime
    interval_s: float = INTERVAL_S
    timeout_s: float = TIMEOUT_S
    stale_after_s: float | None = None  # default: interval_s + timeout_s
    state: HealthState | None = field(default=None, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _outages: dict[str, outage.Outage] = field(default_factory=dict, init=False, repr=False)

    @property
    def mode(self) -> str:
        return "embedded" if self.runtime.settings.embedded else "distributed"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def llm(self) -> dict[str, str]:
        """The model that writes the text (``llm_provider``, ``llm_model``) and, for the built-in mock,
        the notice that its text is placeholder."""
        settings = self.runtime.settings
        about = {"llm_provider": settings.llm_provider, "llm_model": settings.model}
        return about | ({"llm_notice": MOCK_NOTICE} if settings.llm_provider == "mock" else {})

    def probes(self) -> dict[str, Probe]:
        """What to check, by the name /healthz reports it under."""
        probes: dict[str, Probe] = {"database": self._database}
        # Distributed mode: the bus is a RedisBus; its client is reached without importing redis here.
        client: Any = getattr(self.runtime.bus, "redis", None)
        if not self.runtime.settings.embedded and client is not None:
            probes["redis"] = lambda: self._ping(client)
        return probes

    async def _database(self) -> None:
        # runtime.engine is read at each check: whatever engine the runtime holds now is the one checked.
        async with self.runtime.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    @staticmethod
    async def _ping(client: Any) -> None:
        await client.ping()

    async def check(self) -> HealthState:
        """Check every dependency now (at once, each within ``timeout_s``) and keep the result."""
        probes = self.probes()
        outcomes = await asyncio.gather(*(self._run(probe) for probe in probes.values()))
        dependencies: dict[str, str] = {}
        errors: list[str] = []
        for name, exc in zip(probes, outcomes, strict=True):
            dependencies[name] = "ok" if exc is None else "unavailable"
            if exc is None:
                self._outage(name).recovered()
            else:
                errors.append(f"{name} unavailable: {self._reason(exc)}")
                self._outage(name).failed(exc, dependency_name=name)
        if not errors:  # whatever a request met is over too
            for away in self._outages.values():
                away.recovered()
        self.state = HealthState(
            dependencies=dependencies,
            checked_at=datetime.now(UTC),
            monotonic=time.monotonic(),
            error="; ".join(errors) or None,
        )
        return self.state

    def met(self, exc: BaseException) -> str:
        """A request failed with ``exc``, an outage (``outage.unavailable``): count it in the API's
        outage of that dependency, logged if it starts one. Returns the dependency's name."""
        name = outage.dependency(exc)
        self._outage(name).failed(exc, dependency_name=name)
        return name

    def _outage(self, name: str) -> outage.Outage:
        if name not in self._outages:
            self._outages[name] = outage.Outage("api", "answering 503 until it answers", log)
        return self._outages[name]

    async def _run(self, probe: Probe) -> BaseException | None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await probe()
        except Exception as exc:  # the dependency's failure is the answer, not an error of the check
            return exc
        return None

    def _reason(self, exc: BaseException) -> str:
        """A generic reason for a failure (``outage.reason``), a check's own timeout with its length."""
        reason = outage.reason(exc)
        return f"timed out after {self.timeout_s:g} s" if reason == "timed out" else reason

    def report(self) -> tuple[int, dict[str, Any]]:
        """The HTTP status and body of /healthz, from the last check."""
        state = self.state
        body: dict[str, Any] = {"status": "ok", "mode": self.mode, **self.llm}
        if state is None:
            body |= {"status": "unavailable", "error": "no health check has completed yet"}
            return 503, body
        age = time.monotonic() - state.monotonic
        stale_after = (
            self.stale_after_s if self.stale_after_s is not None else self.interval_s + self.timeout_s
        )
        body |= state.dependencies
        body["checked_at"] = state.checked_at.isoformat(timespec="milliseconds")
        if age > stale_after:
            body |= dict.fromkeys(state.dependencies, "unknown")
            body |= {"status": "unavailable", "error": f"the last health check completed {age:.1f} s ago"}
            return 503, body
        if not state.ok:
            body |= {"status": "unavailable", "error": state.error}
            return 503, body
        return 200, body

    async def start(self) -> None:
        """Check once (so the first answer is real), then keep checking in the background."""
        if self.running:
            return
        await self.check()
        self._task = asyncio.create_task(self._loop(), name="healthz")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])  # its end, whatever it was, is observed by _ended

    async def _loop(self) -> None:
        last = self.state.monotonic if self.state is not None else time.monotonic()
        while True:
            # One check per interval_s from the start of the previous one; at once after a slow one.
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - last)))
            last = time.monotonic()
            try:
                await self.check()
            except Exception:  # a bug in the check itself: log it; /healthz goes stale, so 503
                log.exception("health check crashed")

    @staticmethod
    def _ended(task: asyncio.Task[None]) -> None:
        """The loop only ends by cancellation; anything else is logged here rather than lost."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("health check loop ended", exc_info=exc)
