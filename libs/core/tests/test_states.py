"""The job and task state machines of DESIGN.md, enforced in one place."""

from __future__ import annotations

import pytest

from planwright.core.errors import InvalidTransition
from planwright.core.states import (
    JOB_TERMINAL,
    TASK_TERMINAL,
    JobStatus,
    TaskStatus,
    can_job,
    can_task,
    check_job,
    check_task,
)

J, T = JobStatus, TaskStatus

JOB_EDGES = {
    (J.pending, J.planning),
    (J.planning, J.running),
    (J.planning, J.failed),
    (J.running, J.succeeded),
    (J.running, J.failed),
    (J.running, J.planning),  # replanning
    (J.failed, J.running),
} | {(s, J.cancelled) for s in J if s not in JOB_TERMINAL}

TASK_EDGES = {
    (T.pending, T.ready),
    (T.pending, T.skipped),
    (T.pending, T.blocked),
    (T.ready, T.awaiting_approval),
    (T.ready, T.queued),
    (T.ready, T.blocked),
    (T.ready, T.failed),
    (T.awaiting_approval, T.queued),
    (T.awaiting_approval, T.blocked),
    (T.awaiting_approval, T.failed),
    (T.ready, T.awaiting_input),
    (T.awaiting_approval, T.awaiting_input),
    (T.awaiting_input, T.succeeded),
    (T.awaiting_input, T.failed),
    (T.queued, T.running),
    (T.queued, T.failed),
    (T.running, T.reviewing),
    (T.running, T.succeeded),
    (T.running, T.queued),
    (T.running, T.failed),
    (T.reviewing, T.succeeded),
    (T.reviewing, T.queued),
    (T.reviewing, T.failed),
    (T.failed, T.pending),
    (T.blocked, T.pending),
    (T.skipped, T.pending),
    # A later plan version replaced or removed the task (replanning).
    (T.pending, T.superseded),
    (T.failed, T.superseded),
    (T.blocked, T.superseded),
    (T.skipped, T.superseded),
    (T.cancelled, T.superseded),
} | {(s, T.cancelled) for s in T if s not in TASK_TERMINAL}


@pytest.mark.parametrize("a", list(J))
@pytest.mark.parametrize("b", list(J))
def test_job_edges_are_exactly_the_designed_ones(a, b):
    assert can_job(a, b) == ((a, b) in JOB_EDGES)
    if (a, b) not in JOB_EDGES:
        with pytest.raises(InvalidTransition, match=f"job cannot go from {a} to {b}"):
            check_job(a, b)


@pytest.mark.parametrize("a", list(T))
@pytest.mark.parametrize("b", list(T))
def test_task_edges_are_exactly_the_designed_ones(a, b):
    assert can_task(a, b) == ((a, b) in TASK_EDGES)
    if (a, b) not in TASK_EDGES:
        with pytest.raises(InvalidTransition):
            check_task(a, b)


def test_terminal_states_have_no_way_out_but_a_retry_or_a_replan():
    retried = {T.failed, T.blocked, T.skipped}
    replaced = TASK_TERMINAL - {T.succeeded, T.superseded}  # a succeeded task is never replaced
    assert all(
        can_task(t, b) == ((t in retried and b is T.pending) or (t in replaced and b is T.superseded))
        for t in TASK_TERMINAL
        for b in T
    )
    assert all(can_job(j, b) == (j is J.failed and b is J.running) for j in JOB_TERMINAL for b in J)
