"""The policy's part of applying changes: plan checks, recorded decisions, approvals, time limits.

Mixed into the Applier, whose transitions (``_task``, ``_job``, ``_dispatch``, ``advance``) it uses;
like the Applier it does no I/O and records everything in ``Changes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planwright.core import metrics, refs, tracing
from planwright.core.errors import AnswerInvalid, PolicyRefused
from planwright.core.events import EventDraft
from planwright.core.llm.base import LLMCall
from planwright.core.policy import EnvironmentPolicy, PolicyStore
from planwright.core.refs import RefMissing
from planwright.core.settings import Settings
from planwright.core.states import JobStatus, TaskStatus, can_task
from planwright.services.api.orchestrator.money import Money
from planwright.services.api.orchestrator.state import Changes, JobState, TaskState

# The tool's own check of args (the registry's ``validate_args``): the problems, [] when valid.
ArgsCheck = Callable[[str, dict[str, Any]], list[str]]


class Governance(Money):
    settings: Settings
    policy: PolicyStore | None  # set when the gate is on

    def _check_plan(self, job: JobState, ch: Changes) -> None:
        """Block a plan that the policy forbids before any of it runs, saying why."""
        tasks = [(t.key, t.tool, t.args) for t in job.tasks.values()]
        assert self.policy is not None
        check = self.policy.engine.check_plan(self.settings.policy_mode, tasks)
        blocked = [key for key, decision in check.decisions.items() if not decision.allowed]
        span = tracing.start(
            "policy.check_plan",
            attributes={
                "planwright.job_id": job.id,
                "planwright.policy_mode": self.settings.policy_mode,
                "planwright.decision": "allow" if check.allowed else "block",
                "planwright.blocked_tasks": ",".join(blocked) or None,
            },
        )
        ch.spans.append(span)
        if check.allowed:
            return
        for key, decision in check.decisions.items():
            if not decision.allowed:
                task = job.tasks[key]
                self._decision(job, task, ch, "block", decision.rule, decision.reason)
                self._task(job, task, TaskStatus.blocked, ch, error=decision.reason)
        reasons = check.reasons
        for task in job.tasks.values():
            if task.status is TaskStatus.pending:
                self._task(job, task, TaskStatus.skipped, ch, reason="the plan was blocked by policy")
        tracing.failed(span, "; ".join(reasons))
        self._job(job, JobStatus.failed, ch, error="plan blocked by policy: " + "; ".join(reasons))

    def _env(self) -> EnvironmentPolicy | None:
        return self.policy.engine.environment(self.settings.policy_mode) if self.policy else None

    def approval_timeout_s(self) -> float | None:
        return env.approval_timeout_s if (env := self._env()) else None

    def max_runtime_s(self) -> float | None:
        return env.job.max_runtime_s if (env := self._env()) else None

    def overrun(self, job: JobState, ch: Changes, limit_s: float) -> None:
        """The job ran past the policy's max runtime: stop what is open and fail it."""
        self._cancel_open_tasks(job, ch)
        rule = f"environments.{self.settings.policy_mode}.job.max_runtime_s"
        self._job(
            job, JobStatus.failed, ch, error=f"the job ran longer than the policy's {limit_s:g}s ({rule})"
        )

    def max_tokens(self) -> int | None:
        return env.job.max_tokens if (env := self._env()) else None

    def tokens_left(self, job: JobState) -> int | None:
        """What is left of the job's token budget (sent with each dispatch), if it has one."""
        budget = self.max_tokens()
        return None if budget is None else max(0, budget - job.tokens_used)

    def spend(self, job: JobState, task: TaskState | None, calls: list[LLMCall], ch: Changes) -> None:
        """Record the model calls a result reports, and add their tokens and cost to the job's total."""
        for call in calls:
            ch.llm_calls.append(
                {
                    "job_id": job.id,
                    "task_id": task.id if task else None,
                    "attempt": task.attempt if task else None,
                    "created_at": ch.now,
                    **call.model_dump(),
                }
            )
            job.tokens_used += call.tokens
            job.dirty = True
        self.charge(job, calls, ch)  # their cost: the job's, its tenant's day's (money.py)

    def over_budget(self, job: JobState, ch: Changes) -> bool:
        """Fail a running job whose model calls went past the policy's job.max_tokens."""
        budget = self.max_tokens()
        if budget is None or job.tokens_used <= budget or job.status is not JobStatus.running:
            return False
        self._cancel_open_tasks(job, ch)
        rule = f"environments.{self.settings.policy_mode}.job.max_tokens"
        error = f"the job used {job.tokens_used} model tokens; the policy allows {budget} ({rule})"
        self._job(job, JobStatus.failed, ch, error=error)
        return True

    def _max_reworks(self) -> int:
        cap = self.settings.critic_max_reworks
        if (env := self._env()) is not None and env.job.max_reworks is not None:
            cap = min(cap, env.job.max_reworks)
        return cap

    def _decision(
        self,
        job: JobState,
        task: TaskState,
        ch: Changes,
        decision: str,
        rule: str,
        reason: str,
        decided_by: str | None = None,
        args_edit: dict[str, Any] | None = None,
    ) -> None:
        record = {"attempt": task.attempt, "decision": decision, "rule": rule, "reason": reason}
        tool = task.tool
        ch.metrics.append(lambda: metrics.POLICY_DECISIONS.labels(decision, tool).inc())
        ch.decisions.append(
            {
                "job_id": job.id,
                "task_id": task.id,
                "created_at": ch.now,
                "decided_by": decided_by,
                "args_edit": args_edit,
                **record,
            }
        )
        data = {"key": task.key, **record} | ({"decided_by": decided_by} if decided_by else {})
        data |= {"args_edit": args_edit} if args_edit else {}
        ch.events.append(EventDraft(job_id=job.id, task_id=task.id, type="policy.decision", data=data))

    def answer(
        self,
        job: JobState,
        task: TaskState,
        ch: Changes,
        *,
        approve: bool,
        comment: str,
        by: str | None = None,
        args: dict[str, Any] | None = None,
        check_args: ArgsCheck | None = None,
    ) -> bool:
        """A person's answer to a task awaiting approval (the caller checked its state); ``by`` names
        the API key that gave it (None while the API runs open). An approval may change the task's
        ``args``: checked by ``check_args`` (the tool's schema) and the policy first, refused with
        ``AnswerInvalid`` or ``PolicyRefused`` (nothing changes); True when the args were changed."""
        verdict = "approved" if approve else "rejected"
        edit = None
        if approve and args is not None and args != task.args:
            self._check_edit(job, task, args, check_args)
            edit = {"original": task.args, "edited": args}
            task.args = args
        self._decision(job, task, ch, verdict, "human", comment or verdict, by, edit)
        if approve:
            self._dispatch(job, task, ch)
        else:
            error = f"rejected by a reviewer: {comment}" if comment else "rejected by a reviewer"
            self._task(job, task, TaskStatus.failed, ch, error=error)
        self.advance(job, ch)
        return edit is not None

    def _check_edit(
        self, job: JobState, task: TaskState, args: dict[str, Any], check_args: ArgsCheck | None
    ) -> None:
        """Edited args as the task would run them: valid for the tool, and allowed by the policy."""
        try:
            resolved = refs.resolve(args, {d: job.tasks[d].output for d in task.depends_on})
        except RefMissing as exc:
            raise AnswerInvalid([f"args: {exc}"]) from exc
        if check_args is not None and (problems := check_args(task.tool, resolved)):
            raise AnswerInvalid(problems)
        if self.policy is None:
            return
        decision = self.policy.engine.decide(self.settings.policy_mode, task.tool, resolved)
        if not decision.allowed:
            raise PolicyRefused(
                f"the edited args break the policy ({decision.rule}): {decision.reason}; "
                "the task still awaits approval",
                rule=decision.rule,
            )

    def expire_approval(self, job: JobState, task: TaskState, ch: Changes, timeout_s: float) -> None:
        rule = f"environments.{self.settings.policy_mode}.approval_timeout_s"
        self._decision(job, task, ch, "expired", rule, f"no answer within {timeout_s:g}s")
        self._task(job, task, TaskStatus.failed, ch, error=f"approval timed out after {timeout_s:g}s")
        self.advance(job, ch)

    def _cancel_open_tasks(self, job: JobState, ch: Changes) -> None:
        for task in job.tasks.values():
            if can_task(task.status, TaskStatus.cancelled):
                self._task(job, task, TaskStatus.cancelled, ch)
