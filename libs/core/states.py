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
    awaiting_input = "awaiting_input"  # an ask_human task, until a person answers it
    queued = "queued"
    running = "running"
    reviewing = "reviewing"
    succeeded = "succeeded"
    failed = "failed"
    blocked = "blocked"
    skipped = "skipped"
    cancelled = "cancelled"
    # Replaced or removed by a later plan version (replanning): kept for the record, never run again.
    superseded = "superseded"


JOB_TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})
TASK_TERMINAL = frozenset(
    {
        TaskStatus.succeeded,
        TaskStatus.failed,
        TaskStatus.blocked,
        TaskStatus.skipped,
        TaskStatus.cancelled,
        TaskStatus.superseded,
    }
)
# A dependency in one of these states can never succeed, so its dependents are skipped.
TASK_DEAD = TASK_TERMINAL - {TaskStatus.succeeded}

_JOB_EDGES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.pending: frozenset({JobStatus.planning}),
    JobStatus.planning: frozenset({JobStatus.running, JobStatus.failed}),
    # running -> planning: a task failed for good and the planner is asked for the next plan version.
    JobStatus.running: frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.planning}),
    # failed -> running: a person retried one of its failed or blocked tasks.
    JobStatus.failed: frozenset({JobStatus.running}),
}

_T = TaskStatus
_TASK_EDGES: dict[TaskStatus, frozenset[TaskStatus]] = {
    # pending -> blocked: the plan was checked against the policy before anything ran; -> superseded:
    # a later plan version replaced or removed it (replanning).
    _T.pending: frozenset({_T.ready, _T.skipped, _T.blocked, _T.superseded}),
    # -> failed from ready/awaiting_approval: the gate's decision was given up on (dead-lettered).
    # -> awaiting_input: an ask_human task, where any other would be dispatched to a worker.
    _T.ready: frozenset({_T.awaiting_approval, _T.awaiting_input, _T.queued, _T.blocked, _T.failed}),
    _T.awaiting_approval: frozenset({_T.queued, _T.awaiting_input, _T.blocked, _T.failed}),
    # -> succeeded: a person answered; -> failed: nobody did within the policy's input_timeout_s.
    _T.awaiting_input: frozenset({_T.succeeded, _T.failed}),
    _T.queued: frozenset({_T.running, _T.failed}),
    # running -> succeeded/reviewing on completion; -> queued on retry; -> failed when out of retries.
    _T.running: frozenset({_T.succeeded, _T.reviewing, _T.queued, _T.failed}),
    _T.reviewing: frozenset({_T.succeeded, _T.queued, _T.failed}),
    # -> pending: a person retried the task (or the one whose failure skipped it).
    # -> superseded: a later plan version replaced or removed the task (replanning).
    _T.failed: frozenset({_T.pending, _T.superseded}),
    _T.blocked: frozenset({_T.pending, _T.superseded}),
    _T.skipped: frozenset({_T.pending, _T.superseded}),
    _T.cancelled: frozenset({_T.superseded}),
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
