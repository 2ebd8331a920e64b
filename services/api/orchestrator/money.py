"""The policy's money limits in the Orchestrator: ``job.max_cost_usd`` and ``budget.daily_cost_usd``.

Mixed into the Applier; no I/O. Each stored model call's cost is added to its job (``jobs.cost_usd``)
and to its tenant's day (``llm_spend``, in the same write); a job whose spend, or whose tenant's day,
goes past its limit stops: failed with ``budget exceeded: spent $X of $Y``, its open tasks cancelled.
Each dispatch carries the money left, so the model client refuses a call before it would overspend
(libs/core/llm/client.py); such a refusal stops the job the same way. The limits are read from the
policy file with the gate on or off (docs/llm.md#budgets, ADR 0027).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from planwright.core import budget, metrics
from planwright.core.budget import usd
from planwright.core.llm.base import LLMCall
from planwright.core.messages import Message, TaskFailed
from planwright.core.policy import EnvironmentPolicy, PolicyStore, daily_budget
from planwright.core.settings import Settings
from planwright.core.states import JobStatus, TaskStatus
from planwright.services.api.orchestrator.spend import DaySpend
from planwright.services.api.orchestrator.state import Changes, JobState
from planwright.services.api.orchestrator.steps import Steps

SPEND_KEYS = ("tenant", "day", "provider", "model")  # llm_spend's primary key
ENV_FRESH_S = 1.0  # an edited policy file's money limits apply within this long


class Money(Steps):
    settings: Settings
    budgets: PolicyStore | None  # the policy file, for its money limits (gate on or off)
    day_spend: DaySpend

    if TYPE_CHECKING:  # provided by the Applier and Governance

        def _cancel_open_tasks(self, job: JobState, ch: Changes) -> None: ...

    _charged: set[UUID]  # jobs whose calls the message being applied stored

    def _init_money(self, budgets: PolicyStore | None) -> None:
        self.budgets = budgets
        self.day_spend = DaySpend()
        self._charged = set()
        self._money_env: EnvironmentPolicy | None = None
        self._money_any = False  # whether _money_env sets any money limit
        self._money_env_until = float("-inf")

    def _budget_env(self) -> EnvironmentPolicy | None:
        """The policy's environment, for its money limits: looked up at most once a second, as they
        are read for every message and dispatch (the store checks its file at each look-up)."""
        now = time.monotonic()
        if now >= self._money_env_until:
            env = self.budgets.engine.environment(self.settings.policy_mode) if self.budgets else None
            self._money_env, self._money_env_until = env, now + ENV_FRESH_S
            self._money_any = env is not None and (
                env.job.max_cost_usd is not None
                or env.budget.daily_cost_usd is not None
                or bool(env.budget.tenants)
            )
        return self._money_env

    def _any_limit(self) -> bool:
        """Whether the policy sets any money limit (without one, nothing here is worked out)."""
        if time.monotonic() >= self._money_env_until:
            self._budget_env()
        return self._money_any

    def max_cost_usd(self) -> tuple[float, str] | None:
        """The job budget in US dollars and its rule, if the policy sets one."""
        env = self._budget_env()
        limit = env.job.max_cost_usd if env else None
        return (
            None if limit is None else (limit, f"environments.{self.settings.policy_mode}.job.max_cost_usd")
        )

    def daily_cost_usd(self, tenant: str) -> tuple[float, str] | None:
        """The tenant's daily budget in US dollars and its rule, if the policy sets one."""
        env = self._budget_env()
        return daily_budget(env, self.settings.policy_mode, tenant) if env else None

    def daily_budgets(self) -> bool:
        """Whether any tenant has a daily budget (else no day's spend is ever read)."""
        env = self._budget_env()
        return env is not None and (env.budget.daily_cost_usd is not None or bool(env.budget.tenants))

    def _limits(self, cost_usd: float, tenant: str, now: datetime) -> list[_Limit]:
        """Each money limit on a job of ``tenant`` that spent ``cost_usd``, the job's own first."""
        found = []
        if (own := self.max_cost_usd()) is not None:
            found.append(_Limit(cost_usd, own[0], f"the job's budget ({own[1]})", daily=False))
        if (daily := self.daily_cost_usd(tenant)) is not None:
            day = budget.utc_day(now)
            what = f"tenant {tenant}'s budget for {day} (UTC) ({daily[1]})"
            found.append(_Limit(self.day_spend.spent(tenant, day), daily[0], what, daily=True))
        return found

    def money_left(self, job: JobState, now: datetime) -> float | None:
        """US dollars the job's next calls may cost (sent with each dispatch); None: no limit."""
        return self.money_left_for(job.cost_usd, job.tenant, now)

    def money_left_for(self, cost_usd: float, tenant: str, now: datetime) -> float | None:
        if not self._any_limit():
            return None
        return budget.smallest(*(limit.left for limit in self._limits(cost_usd, tenant, now)))

    def charge(self, job: JobState, calls: list[LLMCall], ch: Changes) -> None:
        """Add stored calls to the job's cost, to its tenant's day (``llm_spend``) and to the metric."""
        day = budget.utc_day(ch.now)
        for call in calls:
            cost = call.cost_usd or 0.0
            job.cost_usd += cost
            row = ch.spend.setdefault(
                (job.tenant, day, call.provider, call.model),
                {
                    "tenant": job.tenant,
                    "day": day,
                    "provider": call.provider,
                    "model": call.model,
                    "calls": 0,
                    "unpriced_calls": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost_usd": 0.0,
                },
            )
            row["calls"] += 1
            row["unpriced_calls"] += call.cost_usd is None
            row["input_tokens"] += call.input_tokens
            row["output_tokens"] += call.output_tokens
            row["cost_usd"] += cost
            self.day_spend.add(job.tenant, day, cost)
            ch.metrics.append(functools.partial(metrics.llm_call_stored, call))
        if calls and self._any_limit():
            self._charged.add(job.id)

    def money_over(self, job: JobState, msg: Message, ch: Changes) -> bool:
        """Stop a running job over a money limit after the message that got it there: its own spend,
        its tenant's day (checked when the message stored calls of the job), or a call refused for
        the money left (``TaskFailed.over_budget``)."""
        charged = False
        if self._charged:  # (empty unless a money limit applies)
            charged = job.id in self._charged
            self._charged.discard(job.id)
        if job.status is not JobStatus.running or not self._any_limit():
            return False
        limits = self._limits(job.cost_usd, job.tenant, ch.now)
        # A tenant's spent day stops the jobs that spend more, not those that call no model.
        over = [limit for limit in limits if limit.spent > limit.limit and (charged or not limit.daily)]
        refused = self._refused(job, msg)
        if over:
            error = over[0].exceeded()
        elif refused is not None:
            # The tightest limit is why the call was refused.
            error = min(limits, key=lambda lim: lim.left).exceeded() + f"; {refused}" if limits else refused
        else:
            return False
        self._cancel_open_tasks(job, ch)
        self._job(job, JobStatus.failed, ch, error=error)
        return True

    @staticmethod
    def _refused(job: JobState, msg: Message) -> str | None:
        """Why a task's model call was refused for money, if ``msg`` failed the task for that."""
        if not isinstance(msg, TaskFailed) or not msg.over_budget:
            return None
        task = job.task_by_id(msg.task_id)
        if task is None or task.attempt != msg.attempt or task.status is not TaskStatus.failed:
            return None  # stale: the message changed nothing
        return f"task '{task.key}' was refused a model call: {msg.error}"


@dataclass(frozen=True)
class _Limit:
    spent: float
    limit: float
    what: str  # "the job's budget (<rule>)", "tenant acme's budget for <day> (UTC) (<rule>)"
    daily: bool

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.spent)

    def exceeded(self) -> str:
        return f"budget exceeded: spent {usd(self.spent)} of {usd(self.limit)}, {self.what}"
