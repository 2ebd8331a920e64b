"""Job and task state machines: the one place that says which transitions are legal."""

from __future__ import annotations

from enum import StrEnum

from planwright.core.errors import InvalidTransition


class JobStatus(StrEnum):
    pending = "pending"
    planning = "planning"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class TaskStatus(StrEnum):
    pending = "pending"
    ready = "ready"
    awaiting_approval = "awaiting_approval"
    queued = "queued"
    running = "running"
    reviewing = "reviewing"
    succeeded = "succeeded"
    failed = "failed"
    blocked = "blocked"
    skipped = "skipped"
    cancelled = "cancelled"


JOB_TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})
TASK_TERMINAL = frozenset(
    {TaskStatus.succeeded, TaskStatus.failed, TaskStatus.blocked, TaskStatus.skipped, TaskStatus.cancelled}
)
# A dependency in one of these states can never succeed, so its dependents are skipped.
TASK_DEAD = TASK_TERMINAL - {TaskStatus.succeeded}

_JOB_EDGES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.pending: frozenset({JobStatus.planning}),
    JobStatus.planning: frozenset({JobStatus.running, JobStatus.failed}),
    JobStatus.running: frozenset({JobStatus.succeeded, JobStatus.failed}),
    # failed -> running: a person retried one of its failed or blocked tasks.
    JobStatus.failed: frozenset({JobStatus.running}),
}

_T = TaskStatus
_TASK_EDGES: dict[TaskStatus, frozenset[TaskStatus]] = {
    # pending -> blocked: the plan was checked against the policy before anything ran.
    _T.pending: frozenset({_T.ready, _T.skipped, _T.blocked}),
    # -> failed from ready/awaiting_approval: the gate's decision was given up on (dead-lettered).
    _T.ready: frozenset({_T.awaiting_approval, _T.queued, _T.blocked, _T.failed}),
    _T.awaiting_approval: frozenset({_T.queued, _T.blocked, _T.failed}),
    _T.queued: frozenset({_T.running, _T.failed}),
    # running -> succeeded/reviewing on completion; -> queued on retry; -> failed when out of retries.
    _T.running: frozenset({_T.succeeded, _T.reviewing, _T.queued, _T.failed}),
    _T.reviewing: frozenset({_T.succeeded, _T.queued, _T.failed}),
    # -> pending: a person retried the task (or the one whose failure skipped it).
    _T.failed: frozenset({_T.pending}),
    _T.blocked: frozenset({_T.pending}),
    _T.skipped: frozenset({_T.pending}),
}


def can_job(current: JobStatus, target: JobStatus) -> bool:
    """True when a job may move from ``current`` to ``target``; any non-terminal job may be cancelled."""
    if target is JobStatus.cancelled:
        return current not in JOB_TERMINAL
    return target in _JOB_EDGES.get(current, frozenset())


def can_task(current: TaskStatus, target: TaskStatus) -> bool:
    """True when a task may move from ``current`` to ``target``; any non-terminal task may be cancelled."""
    if target is TaskStatus.cancelled:
        return current not in TASK_TERMINAL
    return target in _TASK_EDGES.get(current, frozenset())


def check_job(current: JobStatus, target: JobStatus) -> None:
    if not can_job(current, target):
        raise InvalidTransition(f"job cannot go from {current} to {target}")


def check_task(current: TaskStatus, target: TaskStatus) -> None:
    if not can_task(current, target):
        raise InvalidTransition(f"task cannot go from {current} to {target}")
