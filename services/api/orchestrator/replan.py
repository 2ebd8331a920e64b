"""Replanning: a job whose task failed for good asks the planner for its next plan version (ADR 0029).

Mixed into the Applier like ``Governance``: no I/O, everything recorded in ``Changes``. The job goes
back to ``planning`` once nothing of it runs any more (every task is terminal), so the planner sees
every output and no result arrives mid-replan. Whatever the planner answers, tasks that succeeded
stay exactly as they are and are never run again; a replan that breaks that, fails validation or
the policy is refused, and counts as a round like any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from planwright.core import metrics, names, scheduler
from planwright.core.errors import PlanInvalid
from planwright.core.events import EventDraft
from planwright.core.llm.base import LLMCall
from planwright.core.messages import PlanReplanned, PlanReplanRequested, TaskFailure
from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.planning.replan import diff_plans, kept_problems
from planwright.core.planning.validation import ToolCatalog, validate_plan
from planwright.core.policy import PolicyStore
from planwright.core.settings import Settings
from planwright.core.states import JobStatus, TaskStatus, check_task
from planwright.services.api.orchestrator.state import Changes, JobState, TaskState
from planwright.services.api.orchestrator.steps import Steps

# New tasks of plan version v are stored at positions from (v - 1) * this (PLAN_MAX_TASKS <= 500), so
# a reload lists the live plan in the order it has in memory: older versions' tasks first.
_POSITIONS_PER_VERSION = 1000
_RESET = (TaskStatus.failed, TaskStatus.blocked, TaskStatus.skipped)


class Replanning(Steps):
    settings: Settings
    policy: PolicyStore | None
    registry: ToolCatalog | None = None  # with it, a new version is validated like a submitted plan

    if TYPE_CHECKING:  # provided by the Applier and Governance

        def spend(self, job: JobState, task: TaskState | None, calls: list[LLMCall], ch: Changes) -> None: ...

        def tokens_left(self, job: JobState) -> int | None: ...

        def money_left(self, job: JobState, now: datetime) -> float | None: ...

    def fail_or_replan(self, job: JobState, ch: Changes, reason: str | None) -> None:
        """The job would fail with ``reason`` (every task is over, one failed or was blocked): ask
        for the next plan version while rounds are left, else fail it."""
        if self._may_replan(job, ch.now):
            self._ask_replan(job, ch, reason or "a task failed")
        else:
            self._job(job, JobStatus.failed, ch, error=_final(reason or "a task failed", job.replans))

    def _may_replan(self, job: JobState, now: datetime) -> bool:
        # A job submitted with its own plan runs that plan: the planner does not rewrite it. A job
        # whose token or money budget is spent could not pay for the planner's calls.
        tokens, money = self.tokens_left(job), self.money_left(job, now)
        return (
            job.submitted_plan is None
            and job.replans < self.settings.replan_rounds
            and (tokens is None or tokens > 0)
            and (money is None or money > 0)
        )

    def _ask_replan(self, job: JobState, ch: Changes, reason: str, refused: list[str] | None = None) -> None:
        job.replans += 1
        extra: dict[str, Any] = {"refused": refused} if refused else {}
        self._job(job, JobStatus.planning, ch, None, replan=job.replans, reason=reason, **extra)
        ch.outbox.append((names.JOBS, self.replan_request(job, ch.now, refused or [])))
        ch.metrics.append(lambda: metrics.REPLANS.labels("requested").inc())

    def replan_request(
        self, job: JobState, now: datetime, refused: list[str] | None = None
    ) -> PlanReplanRequested:
        """What the planner gets: the goal, the live plan, the succeeded tasks' outputs, the failures."""
        failures = [
            TaskFailure(
                key=t.key,
                tool=t.tool,
                status="blocked" if t.status is TaskStatus.blocked else "failed",
                error=t.error or t.status.value,
                critic_reasons=_critic_reasons(t.error),
            )
            for t in job.tasks.values()
            if t.status in (TaskStatus.failed, TaskStatus.blocked)
        ]
        return PlanReplanRequested(
            job_id=job.id,
            goal=job.goal,
            context=job.context,
            version=job.plan_version,
            round=job.replans,
            plan=live_plan(job),
            outputs={t.key: t.output or {} for t in job.tasks.values() if t.status is TaskStatus.succeeded},
            failures=failures,
            refused=refused or [],
            tokens_left=self.tokens_left(job),
            money_left=self.money_left(job, now),
        )

    @staticmethod
    def answers_round(job: JobState, msg: PlanReplanned) -> bool:
        """Whether ``msg`` answers the job's open request (not a stale or repeated answer)."""
        return msg.version == job.plan_version and msg.round == job.replans

    def replanned(self, job: JobState, msg: PlanReplanned, ch: Changes) -> None:
        """The planner's answer to this round's request (the caller matched version and round)."""
        self.spend(job, None, msg.llm_calls, ch)
        reason = scheduler.failure_reason({k: (t.status, t.error) for k, t in job.tasks.items()})
        reason = reason or "a task failed"
        if msg.plan is None:
            problems = [f"the planner made no new plan: {msg.reason or 'no reason given'}"]
        else:
            problems = self.replan_problems(job, msg.plan)
        outcome = "refused" if problems else "accepted"
        ch.metrics.append(lambda: metrics.REPLANS.labels(outcome).inc())
        if not problems:
            assert msg.plan is not None
            self._new_version(job, msg, msg.plan, reason, ch)
        elif self._may_replan(job, ch.now):
            self._ask_replan(job, ch, reason, refused=problems)
        else:
            error = _final(reason, job.replans, refused=problems)
            self._job(job, JobStatus.failed, ch, error=error)

    def replan_problems(self, job: JobState, plan: PlanSpec) -> list[str]:
        """Why ``plan`` may not be the job's next version: a succeeded task changed or dropped, the
        checks every plan passes (tools, args, references, cycles, size), the policy."""
        succeeded = {k for k, t in job.tasks.items() if t.status is TaskStatus.succeeded}
        problems = kept_problems(live_plan(job), succeeded, plan)
        if self.registry is not None:
            try:
                validate_plan(plan, self.registry, max_tasks=self.settings.plan_max_tasks)
            except PlanInvalid as exc:
                problems.extend(exc.reasons)
        if self.policy is not None:
            mode = self.settings.policy_mode
            check = self.policy.engine.check_plan(mode, [(t.key, t.tool, t.args) for t in plan.tasks])
            problems.extend(f"blocked by policy: {r}" for r in check.reasons)
        return problems

    def _new_version(
        self, job: JobState, msg: PlanReplanned, plan: PlanSpec, reason: str, ch: Changes
    ) -> None:
        diff = diff_plans(live_plan(job), plan)
        job.plan_version += 1
        version = job.plan_version
        ch.plans.append(
            {
                "job_id": job.id,
                "version": version,
                "planner": msg.planner,
                "spec": plan.model_dump(mode="json"),
                "created_at": ch.now,
                "reason": reason,
            }
        )
        specs = {spec.key: spec for spec in plan.tasks}
        live: dict[str, TaskState] = {}
        for key, task in job.tasks.items():
            spec = specs.get(key)
            if spec is not None and _same(task, spec) and task.status is not TaskStatus.cancelled:
                if task.status in _RESET:
                    self._reopen(job, task, ch, version)
                live[key] = task
            else:
                why = f"{'replaced' if spec is not None else 'removed'} by plan version {version}"
                self._supersede(job, task, ch, version, why)
        base = (version - 1) * _POSITIONS_PER_VERSION
        for index, spec in enumerate(plan.tasks):
            if spec.key not in live:
                live[spec.key] = task = TaskState.of(spec)
                job.new_tasks.append((base + index, task))
        job.tasks = live
        job.dirty = True
        ch.events.append(
            EventDraft(
                job_id=job.id,
                type="plan.replanned",
                data={
                    "version": version,
                    "planner": msg.planner,
                    "reason": reason,
                    "round": job.replans,
                    "diff": diff.summary(),
                    **({"notes": msg.notes} if msg.notes else {}),
                    "tasks": [t.summary() for t in live.values()],
                },
            )
        )
        self._job(job, JobStatus.running, ch, replanned=version)

    def _reopen(self, job: JobState, task: TaskState, ch: Changes, version: int) -> None:
        """A failed, blocked or skipped task the new version keeps as it is: it runs again, as a new
        attempt (whatever its old attempt still sends is stale)."""
        if task.status is not TaskStatus.skipped:
            task.attempt += 1
            task.first_attempt, task.reworks = task.attempt, 0
        task.output, task.error, task.started_at, task.finished_at = None, None, None, None
        self._task(job, task, TaskStatus.pending, ch, reason=f"kept by plan version {version}")

    def _supersede(self, job: JobState, task: TaskState, ch: Changes, version: int, why: str) -> None:
        check_task(task.status, TaskStatus.superseded)
        task.status = TaskStatus.superseded
        task.finished_at = task.finished_at or ch.now
        task.dirty = True
        job.retired.append(task)
        data = {"key": task.key, "attempt": task.attempt, "version": version, "reason": why}
        ch.events.append(EventDraft(job_id=job.id, task_id=task.id, type="task.superseded", data=data))


def live_plan(job: JobState) -> PlanSpec:
    """The job's current plan, from its live tasks (kept tasks as they ran)."""
    return PlanSpec(
        tasks=[
            TaskSpec(
                key=t.key,
                title=t.title,
                description=t.description,
                tool=t.tool,
                args=t.args,
                depends_on=list(t.depends_on),
                critic_required=t.critic_required,
            )
            for t in job.tasks.values()
        ]
    )


def _same(task: TaskState, spec: TaskSpec) -> bool:
    return (
        task.title == spec.title
        and task.description == spec.description
        and task.tool == spec.tool
        and task.args == spec.args
        and task.depends_on == spec.depends_on
        and task.critic_required == spec.critic_required
    )


def _critic_reasons(error: str | None) -> list[str]:
    """The critic's reasons, out of the error of a task it rejected (the Applier's ``_verdict``)."""
    if not error or not error.startswith("rejected by critic after "):
        return []
    return [r for r in error.split(": ", 1)[-1].split("; ") if r]


def _final(reason: str, rounds: int, refused: list[str] | None = None) -> str:
    """The job's error once no round is left: the last failure, and how replanning went."""
    if not rounds:
        return reason
    times = f"replanned {rounds} time{'s' if rounds != 1 else ''}"
    if refused:
        return f"{reason} ({times}; the last new plan was refused: {'; '.join(refused)})"
    return f"{reason} ({times})"
