"""How each message changes a job: transitions through the state machine, plus what follows from them.

Pure with respect to I/O: it mutates the loaded JobState and records events and outgoing messages
in ``Changes``; the service persists both in one transaction. A message that does not match the
task's current state and attempt is a duplicate or stale and changes nothing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from planwright.core import metrics, names, redact, refs, scheduler, tracing
from planwright.core.events import EventDraft
from planwright.core.human_input import ASK_HUMAN
from planwright.core.messages import (
    CriticVerdict,
    Message,
    PlanCreated,
    PlanFailed,
    PlanProgress,
    PlanReplanned,
    PlanStarted,
    TaskAllowed,
    TaskBlocked,
    TaskCompleted,
    TaskDispatch,
    TaskFailed,
    TaskNeedsApproval,
    TaskProgress,
    TaskReady,
    TaskReview,
    TaskStarted,
)
from planwright.core.policy import PolicyStore
from planwright.core.refs import RefMissing
from planwright.core.settings import Settings
from planwright.core.states import (
    TASK_DEAD,
    TASK_TERMINAL,
    JobStatus,
    TaskStatus,
    can_job,
    can_task,
    check_task,
)
from planwright.services.api.orchestrator.governance import Governance
from planwright.services.api.orchestrator.human import HumanInput
from planwright.services.api.orchestrator.intake import first_messages
from planwright.services.api.orchestrator.replan import Replanning
from planwright.services.api.orchestrator.state import Changes, JobState, TaskState

MAX_BACKOFF_S = 30.0
TaskMessage = (
    TaskAllowed
    | TaskNeedsApproval
    | TaskBlocked
    | TaskStarted
    | TaskProgress
    | TaskCompleted
    | TaskFailed
    | CriticVerdict
)


class Applier(Governance, HumanInput, Replanning):
    def __init__(
        self, settings: Settings, policy: PolicyStore | None = None, budgets: PolicyStore | None = None
    ) -> None:
        self.settings = settings
        self.policy = policy  # set when the gate is on: plans are checked before anything runs
        self._init_money(budgets or policy)  # money limits apply with the gate on or off

    def apply(self, job: JobState, msg: Message, ch: Changes) -> None:
        """Apply one message; call ``settle`` once the batch's messages for the job are applied."""
        msg = redact.scrub(msg)  # a secret echoed in an error is never stored nor streamed
        match msg:
            case PlanStarted():
                if job.status is JobStatus.pending:  # not a replanning job's, nor a running one's
                    self._job(job, JobStatus.planning, ch, planner=msg.planner)
            case PlanProgress():
                if job.status is JobStatus.planning:  # a live view: a late piece is simply dropped
                    data = {"attempt": msg.attempt, "delta": msg.delta}
                    ch.events.append(EventDraft(job_id=job.id, type="plan.progress", data=data))
                return
            case PlanCreated() | PlanFailed() if (
                job.status in (JobStatus.pending, JobStatus.planning) and not job.plan_version
            ):
                # With several orchestrators, plan.created can overtake plan.started: pass through.
                if job.status is JobStatus.pending:
                    self._job(job, JobStatus.planning, ch, planner=getattr(msg, "planner", "unknown"))
                self.spend(job, None, msg.llm_calls, ch)
                if isinstance(msg, PlanCreated):
                    self._plan_created(job, msg, ch)
                else:
                    self._job(job, JobStatus.failed, ch, error=f"planning failed: {msg.reason}")
            case PlanReplanned() if job.status is JobStatus.planning and self.answers_round(job, msg):
                self.replanned(job, msg, ch)
            case TaskAllowed() | TaskNeedsApproval() | TaskBlocked() | TaskStarted() | TaskProgress():
                self._task_msg(job, msg, ch)
            case TaskCompleted() | TaskFailed() | CriticVerdict():
                self._task_msg(job, msg, ch)
            case _:
                return
        self.over_budget(job, ch)
        if self._any_limit():
            self.money_over(job, msg, ch)  # nothing more once the token budget stopped the job

    def settle(self, job: JobState, ch: Changes) -> None:
        """What follows from the messages just applied to ``job``: once per job and batch, not per
        message (a batch of 100 results of one fan-out scans its graph once, not 100 times)."""
        if job.status is JobStatus.running:
            self.advance(job, ch)

    # -- jobs ---------------------------------------------------------------------------------

    def _job(
        self, job: JobState, status: JobStatus, ch: Changes, error: str | None = None, **data: Any
    ) -> None:
        job.status = status
        job.dirty = True
        if error is not None:
            job.error = error
            data["error"] = error
        if status in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled):
            job.finished_at = ch.now
            took = (ch.now - (job.reopened_at or job.created_at or ch.now)).total_seconds()
            ch.metrics.append(lambda: metrics.job_finished(status.value, took))
            end = tracing.start(
                f"job.{status.value}",
                attributes={"planwright.job_id": job.id, "planwright.status": status.value, "error": error},
            )
            if status is JobStatus.failed:
                tracing.failed(end, error or "failed")
            ch.spans.append(end)
        ch.events.append(EventDraft(job_id=job.id, type=f"job.{status.value}", data=data))

    def _plan_created(self, job: JobState, msg: PlanCreated, ch: Changes) -> None:
        job.plan_version += 1
        ch.plans.append(
            {
                "job_id": job.id,
                "version": job.plan_version,
                "planner": msg.planner,
                "spec": msg.plan.model_dump(mode="json"),
                "created_at": ch.now,
                "reason": None,  # the first version; a replan's says which failure led to it
            }
        )
        for position, spec in enumerate(msg.plan.tasks):
            task = TaskState.of(spec)
            job.tasks[spec.key] = task
            job.new_tasks.append((position, task))
        ch.events.append(
            EventDraft(
                job_id=job.id,
                type="plan.created",
                data={
                    "version": job.plan_version,
                    "planner": msg.planner,
                    **({"notes": msg.notes} if msg.notes else {}),
                    "tasks": [t.summary() for t in job.tasks.values()],
                },
            )
        )
        job.dirty = True
        self._job(job, JobStatus.running, ch)
        if self.policy is not None:
            self._check_plan(job, ch)

    def advance(self, job: JobState, ch: Changes) -> None:
        """Skip what can no longer run, release what is ready, and finish the job when all is done."""
        graph = {k: t.depends_on for k, t in job.tasks.items()}
        status = {k: t.status for k, t in job.tasks.items()}
        if not TASK_DEAD.isdisjoint(status.values()):
            for key in scheduler.tasks_to_skip(graph, status):
                task = job.tasks[key]
                dead = [d for d in task.depends_on if job.tasks[d].status is not TaskStatus.succeeded]
                self._task(
                    job, task, TaskStatus.skipped, ch, reason=f"dependency {', '.join(dead)} did not succeed"
                )
            status = {k: t.status for k, t in job.tasks.items()}
        released = [self._release(job, job.tasks[key], ch) for key in scheduler.ready_tasks(graph, status)]
        if not all(released):
            self.advance(job, ch)  # a task failed on its arguments: skip its dependents now
            return
        outcome = scheduler.job_outcome({k: t.status for k, t in job.tasks.items()})
        if outcome is not None and can_job(job.status, outcome):
            reason = scheduler.failure_reason({k: (t.status, t.error) for k, t in job.tasks.items()})
            if outcome is JobStatus.failed:
                self.fail_or_replan(job, ch, reason)
            else:
                self._job(job, outcome, ch)

    def _release(self, job: JobState, task: TaskState, ch: Changes, *, again: bool = False) -> bool:
        """A task whose dependencies succeeded goes to the policy gate, or straight to a worker;
        False when its arguments cannot be resolved (it failed)."""
        if not again:
            self._task(job, task, TaskStatus.ready, ch)
        try:
            args = self._args(job, task)
        except RefMissing as exc:
            self._task(job, task, TaskStatus.failed, ch, error=f"its arguments cannot be resolved: {exc}")
            return False
        if self.settings.policy_gate_enabled:
            msg = TaskReady(job_id=job.id, task_id=task.id, attempt=task.attempt, tool=task.tool, args=args)
            ch.outbox.append((names.READY, msg))
        else:
            self._dispatch(job, task, ch)
        return True

    @staticmethod
    def _args(job: JobState, task: TaskState) -> dict[str, Any]:
        """The task's args with its ``$from`` references replaced by its dependencies' outputs."""
        if not refs.has_refs(task.args):
            return task.args
        return refs.resolve(task.args, {d: job.tasks[d].output for d in task.depends_on})

    def _args_or_declared(self, job: JobState, task: TaskState) -> dict[str, Any]:
        try:
            return self._args(job, task)
        except RefMissing:
            return task.args  # resolved when released; if not now, the tool's validation says why

    def _dispatch(self, job: JobState, task: TaskState, ch: Changes, *, feedback: str | None = None) -> None:
        if task.tool == ASK_HUMAN:  # a person answers it, not a worker (ADR 0028)
            self._await_input(job, task, ch)
            return
        delay = 0.0
        if task.status in (TaskStatus.running, TaskStatus.reviewing) and feedback is None:
            delay = min(self.settings.retry_backoff_s * 2**task.retries_used, MAX_BACKOFF_S)
        if task.status in (TaskStatus.running, TaskStatus.reviewing):
            task.attempt += 1
        self._task(job, task, TaskStatus.queued, ch, **({"delay_s": delay} if delay else {}))
        self._send_dispatch(job, task, ch, feedback=feedback, delay=delay)

    def _send_dispatch(
        self, job: JobState, task: TaskState, ch: Changes, *, feedback: str | None = None, delay: float = 0.0
    ) -> None:
        span = tracing.start(
            f"dispatch {task.key}",
            attributes={
                "planwright.job_id": job.id,
                "planwright.task_id": task.id,
                "planwright.task_key": task.key,
                "planwright.tool": task.tool,
                "planwright.attempt": task.attempt,
                "planwright.lane": names.dispatch_lane(job.priority),
                "planwright.delay_s": delay or None,
                "planwright.rework": feedback is not None or None,
            },
        )
        ch.spans.append(span)
        with tracing.current(span):  # the worker's span for this attempt is this one's child
            self._dispatch_msg(job, task, ch, feedback=feedback, delay=delay)

    def _dispatch_msg(
        self, job: JobState, task: TaskState, ch: Changes, *, feedback: str | None, delay: float
    ) -> None:
        msg = TaskDispatch(
            job_id=job.id,
            task_id=task.id,
            attempt=task.attempt,
            key=task.key,
            tool=task.tool,
            args=self._args_or_declared(job, task),
            goal=job.goal,
            context=job.context,
            priority=job.priority,
            inputs={d: job.tasks[d].output or {} for d in task.depends_on},
            feedback=feedback,
            not_before=time.time() + delay if delay else None,
            tokens_left=self.tokens_left(job),
            money_left=self.money_left(job, ch.now),
            dispatched_at=time.time(),
        )
        ch.outbox.append((names.dispatch_lane(job.priority), msg))

    def _send_review(
        self, job: JobState, task: TaskState, ch: Changes, trace: dict[str, str] | None = None
    ) -> None:
        """Ask the critic; its span is a child of ``trace`` (the tool call it judges), else the job's."""
        with tracing.parented(trace):
            self._review_msg(job, task, ch)

    def _review_msg(self, job: JobState, task: TaskState, ch: Changes) -> None:
        review = TaskReview(
            job_id=job.id,
            task_id=task.id,
            attempt=task.attempt,
            key=task.key,
            tool=task.tool,
            title=task.title,
            goal=job.goal,
            output=task.output or {},
            args=self._args_or_declared(job, task),
            tokens_left=self.tokens_left(job),
            money_left=self.money_left(job, ch.now),
        )
        ch.outbox.append((names.REVIEW, review))

    def resume(self, job: JobState, ch: Changes) -> None:
        """Re-send what each unfinished piece of work waits for, after the bus lost it (a restart).

        A task that was running gets a fresh attempt, so a late result from the old one is ignored.
        """
        if job.status is JobStatus.planning and job.plan_version:  # replanning: ask again
            ch.outbox.append((names.JOBS, self.replan_request(job, ch.now)))
            return
        if job.status in (JobStatus.pending, JobStatus.planning):
            money = self.money_left(job, ch.now)
            plan = job.submitted_plan
            ch.outbox.extend(first_messages(job.id, job.goal, job.context, job.priority, plan, money))
            return
        for task in job.tasks.values():
            if task.status is TaskStatus.ready:
                self._release(job, task, ch, again=True)
            elif task.status is TaskStatus.queued:
                self._send_dispatch(job, task, ch)
            elif task.status is TaskStatus.running:
                self._dispatch(job, task, ch)
            elif task.status is TaskStatus.reviewing:
                self._send_review(job, task, ch)
        self.advance(job, ch)

    # -- tasks --------------------------------------------------------------------------------

    def _task(self, job: JobState, task: TaskState, status: TaskStatus, ch: Changes, **data: Any) -> None:
        check_task(task.status, status)
        task.status = status
        task.dirty = True
        if status is TaskStatus.running:
            task.started_at = ch.now
        if status in TASK_TERMINAL:
            task.finished_at = ch.now
            took = (ch.now - task.started_at).total_seconds() if task.started_at else None
            tool = task.tool
            ch.metrics.append(lambda: metrics.task_finished(tool, status.value, took))
        if "error" in data:
            task.error = data["error"]
        payload = {"key": task.key, "attempt": task.attempt, **data}
        ch.events.append(
            EventDraft(job_id=job.id, task_id=task.id, type=f"task.{status.value}", data=payload)
        )

    def _task_msg(
        self,
        job: JobState,
        msg: TaskMessage,
        ch: Changes,
    ) -> None:
        task = job.task_by_id(msg.task_id)
        if task is None or msg.attempt != task.attempt or job.status is not JobStatus.running:
            return  # unknown, stale attempt, or the job is already over
        match msg:
            case TaskAllowed() if task.status is TaskStatus.ready:
                self._decision(job, task, ch, "allow", msg.rule, msg.reason)
                self._dispatch(job, task, ch)
            case TaskNeedsApproval() if task.status is TaskStatus.ready:
                self._decision(job, task, ch, "needs_approval", msg.rule, msg.reason)
                self._task(job, task, TaskStatus.awaiting_approval, ch, reason=msg.reason)
            case TaskBlocked() if can_task(task.status, TaskStatus.blocked):
                self._decision(job, task, ch, "block", msg.rule, msg.reason)
                self._task(job, task, TaskStatus.blocked, ch, error=msg.reason)
            case TaskStarted() if task.status is TaskStatus.queued:
                taken_over = {"delivery": msg.delivery} if msg.delivery > 1 else {}
                self._task(job, task, TaskStatus.running, ch, worker=msg.worker, **taken_over)
            case TaskStarted() if task.status is TaskStatus.running and msg.delivery > 1:
                # Taken over from a worker that died (the same attempt): say who runs it now.
                data = {
                    "key": task.key,
                    "attempt": task.attempt,
                    "worker": msg.worker,
                    "delivery": msg.delivery,
                }
                ch.events.append(EventDraft(job_id=job.id, task_id=task.id, type="task.running", data=data))
            case TaskProgress() if task.status is TaskStatus.running:
                ch.events.append(
                    EventDraft(
                        job_id=job.id,
                        task_id=task.id,
                        type="task.progress",
                        data=_progress(task, msg),
                    )
                )
            case TaskCompleted() if task.status in (TaskStatus.queued, TaskStatus.running):
                self._completed(job, task, msg, ch)
            case TaskFailed() if task.status in (TaskStatus.queued, TaskStatus.running):
                self._failed(job, task, msg, ch)
            case TaskFailed() if can_task(task.status, TaskStatus.failed):
                # Only a give-up reaches a task that no worker holds (ready, reviewing): no retry.
                self._task(job, task, TaskStatus.failed, ch, error=msg.error)
            case CriticVerdict() if task.status is TaskStatus.reviewing:
                self._verdict(job, task, msg, ch)

    def _completed(self, job: JobState, task: TaskState, msg: TaskCompleted, ch: Changes) -> None:
        self.spend(job, task, msg.llm_calls, ch)
        if task.status is TaskStatus.queued:  # the started message was folded into this batch's past
            self._task(job, task, TaskStatus.running, ch)
        task.output = msg.output
        if task.tool == "file_write_artifact" and "sha256" in msg.output:
            ch.artifacts.append(
                {
                    # Keyed by (task, attempt, name): a redelivered completion cannot add a second row.
                    "id": uuid.uuid5(task.id, f"{task.attempt}:{msg.output['name']}"),
                    "job_id": job.id,
                    "task_id": task.id,
                    "attempt": task.attempt,
                    "name": msg.output["name"],
                    "sha256": msg.output["sha256"],
                    "size": msg.output["size"],
                    "media_type": msg.output["media_type"],
                    "created_at": ch.now,
                }
            )
        if task.critic_required and self.settings.critic_enabled:
            self._task(job, task, TaskStatus.reviewing, ch)
            self._send_review(job, task, ch, msg.trace)
        else:
            self._task(job, task, TaskStatus.succeeded, ch)

    def _failed(self, job: JobState, task: TaskState, msg: TaskFailed, ch: Changes) -> None:
        self.spend(job, task, msg.llm_calls, ch)
        if task.status is TaskStatus.queued:
            self._task(job, task, TaskStatus.running, ch)
        retries_used = task.retries_used
        if msg.retryable and retries_used < self.settings.task_max_retries:
            ch.events.append(
                EventDraft(
                    job_id=job.id,
                    task_id=task.id,
                    type="task.retrying",
                    data={"key": task.key, "attempt": task.attempt, "error": msg.error},
                )
            )
            self._dispatch(job, task, ch)
            return
        suffix = f" (after {retries_used + 1} attempts)" if msg.retryable else ""
        self._task(job, task, TaskStatus.failed, ch, error=msg.error + suffix)

    def _verdict(self, job: JobState, task: TaskState, msg: CriticVerdict, ch: Changes) -> None:
        self.spend(job, task, msg.llm_calls, ch)
        ch.verdicts.append(
            {
                "job_id": job.id,
                "task_id": task.id,
                "attempt": task.attempt,
                "verdict": msg.verdict,
                "reasons": msg.reasons,
                "created_at": ch.now,
            }
        )
        ch.metrics.append(lambda: metrics.CRITIC_VERDICTS.labels(msg.verdict).inc())
        ch.events.append(
            EventDraft(
                job_id=job.id,
                task_id=task.id,
                type="critic.verdict",
                data={
                    "key": task.key,
                    "attempt": task.attempt,
                    "verdict": msg.verdict,
                    "reasons": msg.reasons,
                },
            )
        )
        if msg.verdict == "approve":
            self._task(job, task, TaskStatus.succeeded, ch)
        elif task.reworks < self._max_reworks():
            task.reworks += 1
            self._dispatch(job, task, ch, feedback="; ".join(msg.reasons))
        else:
            reasons = "; ".join(msg.reasons)
            self._task(
                job,
                task,
                TaskStatus.failed,
                ch,
                error=f"rejected by critic after {task.reworks} reworks: {reasons}",
            )

    def retry(self, job: JobState, task: TaskState, ch: Changes) -> None:
        """A person retries a failed or blocked task (the caller checked its state): it runs again with
        a fresh retry budget, the tasks its failure skipped are back to pending, and a failed job reopens."""
        status = {k: t.status for k, t in job.tasks.items()}
        reopen = scheduler.tasks_to_reopen({k: t.depends_on for k, t in job.tasks.items()}, status, task.key)
        if job.status is JobStatus.failed:
            job.error, job.finished_at, job.reopened_at = None, None, ch.now
            self._job(job, JobStatus.running, ch, retried=task.key)
        for key in reopen:
            t = job.tasks[key]
            if t is task:  # a new attempt: whatever the old one still sends is stale
                t.attempt += 1
                t.first_attempt, t.reworks = t.attempt, 0
            t.output, t.error, t.started_at, t.finished_at = None, None, None, None
            why = "retried" if t is task else f"reopened by the retry of '{task.key}'"
            self._task(job, t, TaskStatus.pending, ch, reason=why)
        self.advance(job, ch)

    def cancel(self, job: JobState, ch: Changes, reason: str) -> None:
        self._cancel_open_tasks(job, ch)
        self._job(job, JobStatus.cancelled, ch, error=reason)


def _progress(task: TaskState, msg: TaskProgress) -> dict[str, Any]:
    """A task.progress event's data: the message, and the model's streamed text when it carries some."""
    data: dict[str, Any] = {"key": task.key, "attempt": task.attempt, "message": msg.message}
    if msg.delta is not None:
        data["delta"] = msg.delta
    return data
