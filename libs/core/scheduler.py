"""Which tasks of a job can run next, which can never run, and how the job ends. Pure: no I/O.

A graph maps each task key to the keys it depends on, in plan order; statuses map keys to their state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from planwright.core.states import TASK_DEAD, TASK_TERMINAL, JobStatus, TaskStatus

Graph = Mapping[str, Sequence[str]]
Statuses = Mapping[str, TaskStatus]


def ready_tasks(graph: Graph, status: Statuses) -> list[str]:
    """Pending tasks whose dependencies have all succeeded, in graph order."""
    return [
        key
        for key, deps in graph.items()
        if status.get(key) == TaskStatus.pending
        and all(status.get(dep) == TaskStatus.succeeded for dep in deps)
    ]


def tasks_to_skip(graph: Graph, status: Statuses) -> list[str]:
    """Pending tasks that can never run: a dependency is dead, directly or through other pending tasks."""
    dependents: dict[str, list[str]] = {}
    for key, deps in graph.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(key)
    doomed: set[str] = set()
    frontier = [key for key in graph if status.get(key) in TASK_DEAD]
    while frontier:
        for child in dependents.get(frontier.pop(), ()):
            if child not in doomed and status.get(child) == TaskStatus.pending:
                doomed.add(child)
                frontier.append(child)
    return [key for key in graph if key in doomed]


def job_outcome(status: Statuses) -> JobStatus | None:
    """The job's final state once every task is terminal, else ``None``."""
    states = set(status.values())
    if not states <= TASK_TERMINAL:
        return None
    if states <= {TaskStatus.succeeded}:
        return JobStatus.succeeded
    if TaskStatus.cancelled in states and not states & {TaskStatus.failed, TaskStatus.blocked}:
        return JobStatus.cancelled
    return JobStatus.failed


def failure_reason(tasks: Mapping[str, tuple[TaskStatus, str | None]]) -> str | None:
    """Why the job failed, from the first failed or blocked task in order; ``None`` if there is none."""
    for key, (state, error) in tasks.items():
        if state == TaskStatus.failed:
            return f"task '{key}' failed: {error}" if error else f"task '{key}' failed"
        if state == TaskStatus.blocked:
            return f"task '{key}' was blocked: {error}" if error else f"task '{key}' was blocked"
    return None


def tasks_to_reopen(graph: Graph, status: Statuses, key: str) -> list[str]:
    """What a retry of ``key`` (failed or blocked) puts back to pending, in graph order: the task,
    and every skipped task none of whose dependencies stays dead once the reopened ones are pending."""
    reopened = {key}
    changed = True
    while changed:
        changed = False
        for task, deps in graph.items():
            if (
                task not in reopened
                and status.get(task) == TaskStatus.skipped
                and all(dep in reopened or status.get(dep) not in TASK_DEAD for dep in deps)
            ):
                reopened.add(task)
                changed = True
    return [task for task in graph if task in reopened]
