import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwright.core.scheduler import (
    failure_reason,
    job_outcome,
    ready_tasks,
    tasks_to_reopen,
    tasks_to_skip,
)
from planwright.core.states import TASK_TERMINAL, JobStatus, TaskStatus

P, R, Q, S, F, B, K, C = (
    TaskStatus.pending,
    TaskStatus.running,
    TaskStatus.queued,
    TaskStatus.succeeded,
    TaskStatus.failed,
    TaskStatus.blocked,
    TaskStatus.skipped,
    TaskStatus.cancelled,
)
DEMO = {"checklist": [], "write": ["checklist"], "summarize": ["write"]}


def test_ready_tasks_are_pending_with_every_dependency_succeeded_in_graph_order():
    graph = {"c": ["a", "b"], "b": [], "a": [], "d": ["a"]}
    assert ready_tasks(graph, {"a": P, "b": P, "c": P, "d": P}) == ["b", "a"]
    assert ready_tasks(graph, {"a": S, "b": R, "c": P, "d": P}) == ["d"]
    assert ready_tasks(graph, {"a": S, "b": S, "c": P, "d": Q}) == ["c"]


def test_a_chain_becomes_ready_one_link_at_a_time():
    assert ready_tasks(DEMO, {"checklist": P, "write": P, "summarize": P}) == ["checklist"]
    assert ready_tasks(DEMO, {"checklist": S, "write": P, "summarize": P}) == ["write"]
    assert ready_tasks(DEMO, {"checklist": S, "write": S, "summarize": S}) == []


@pytest.mark.parametrize("dead", [F, B, K, C])
def test_pending_tasks_downstream_of_a_dead_one_are_skipped_transitively(dead):
    assert tasks_to_skip(DEMO, {"checklist": dead, "write": P, "summarize": P}) == ["write", "summarize"]


def test_skipping_follows_only_pending_tasks_and_keeps_graph_order():
    graph = {"late": ["mid"], "mid": ["root"], "root": [], "other": [], "side": ["other"]}
    status = {"root": F, "mid": P, "late": P, "other": S, "side": P}
    assert tasks_to_skip(graph, status) == ["late", "mid"]
    assert tasks_to_skip(graph, {**status, "mid": R}) == []
    assert tasks_to_skip(DEMO, {"checklist": S, "write": R, "summarize": P}) == []


def test_a_retry_reopens_the_task_and_what_was_skipped_because_of_it():
    assert tasks_to_reopen(DEMO, {"checklist": S, "write": F, "summarize": K}, "write") == [
        "write",
        "summarize",
    ]
    assert tasks_to_reopen(DEMO, {"checklist": F, "write": K, "summarize": K}, "checklist") == list(DEMO)


def test_a_retry_leaves_skipped_what_another_dead_task_still_cuts_off():
    graph = {"a": [], "b": [], "both": ["a", "b"], "only_a": ["a"], "done": []}
    status = {"a": F, "b": B, "both": K, "only_a": K, "done": S}
    assert tasks_to_reopen(graph, status, "a") == ["a", "only_a"]
    assert tasks_to_reopen(graph, {**status, "b": S}, "a") == ["a", "both", "only_a"]


def test_a_retry_after_a_blocked_plan_reopens_the_tasks_skipped_with_it():
    status = {"checklist": K, "write": B, "summarize": K}
    assert tasks_to_reopen(DEMO, status, "write") == list(DEMO)


def test_job_outcome():
    assert job_outcome({"a": S, "b": R}) is None
    assert job_outcome({"a": S, "b": P}) is None
    assert job_outcome({"a": S, "b": S}) is JobStatus.succeeded
    assert job_outcome({"a": S, "b": F, "c": K}) is JobStatus.failed
    assert job_outcome({"a": B, "b": K}) is JobStatus.failed
    assert job_outcome({"a": S, "b": C, "c": K}) is JobStatus.cancelled
    assert job_outcome({"a": F, "b": C}) is JobStatus.failed
    assert job_outcome({"a": K}) is JobStatus.failed


def test_failure_reason_names_the_first_failed_or_blocked_task():
    assert failure_reason(
        {"a": (S, None), "b": (B, "http_fetch is not allowed in prod"), "c": (F, "boom")}
    ) == ("task 'b' was blocked: http_fetch is not allowed in prod")
    assert failure_reason({"a": (K, None), "c": (F, "timed out after 30s")}) == (
        "task 'c' failed: timed out after 30s"
    )
    assert failure_reason({"a": (F, None)}) == "task 'a' failed"
    assert failure_reason({"a": (S, None), "b": (C, None)}) is None


@st.composite
def runs(draw):
    """A random DAG (edges from earlier to later keys, listed in random order) and each task's outcome."""
    n = draw(st.integers(min_value=1, max_value=20))
    keys = [f"t{i}" for i in range(n)]
    deps = {keys[i]: draw(st.lists(st.sampled_from(keys[:i]), unique=True)) if i else [] for i in range(n)}
    order = draw(st.permutations(keys))
    succeeds = {key: draw(st.booleans()) for key in keys}
    return {key: deps[key] for key in order}, succeeds


def simulate(graph, succeeds):
    """Run a job to its end the way the orchestrator does; returns final statuses and start order."""
    status = dict.fromkeys(graph, P)
    started = []
    for _ in range(len(graph)):
        if job_outcome(status) is not None:
            break
        ready = ready_tasks(graph, status)
        for key in ready:
            assert all(status[dep] is S for dep in graph[key]), f"{key} started before its dependencies"
            started.append(key)
        for key in ready:
            status[key] = S if succeeds[key] else F
        skip = tasks_to_skip(graph, status)
        assert ready or skip, "a pass that neither runs nor skips anything would loop forever"
        for key in skip:
            status[key] = K
    return status, started


def descendants(graph, roots):
    found, frontier = set(), list(roots)
    while frontier:
        node = frontier.pop()
        for key, deps in graph.items():
            if node in deps and key not in found:
                found.add(key)
                frontier.append(key)
    return found


@given(runs())
def test_a_simulated_run_always_ends_and_skips_exactly_what_a_failure_cuts_off(run):
    graph, succeeds = run
    status, started = simulate(graph, succeeds)

    outcome = job_outcome(status)
    assert outcome is not None, "the job did not end within one pass per task"
    assert set(status.values()) <= TASK_TERMINAL
    assert len(started) == len(set(started))
    failed = {key for key, state in status.items() if state is F}
    skipped = {key for key, state in status.items() if state is K}
    assert skipped == descendants(graph, failed) - set(started)
    assert failed == {key for key in started if not succeeds[key]}
    if all(succeeds.values()):
        assert outcome is JobStatus.succeeded
    else:
        assert outcome is JobStatus.failed
        assert failure_reason({key: (state, "boom") for key, state in status.items()}) is not None


@given(runs())
def test_when_everything_succeeds_every_task_runs_once(run):
    graph, _ = run
    status, started = simulate(graph, dict.fromkeys(graph, True))
    assert sorted(started) == sorted(graph)
    assert job_outcome(status) is JobStatus.succeeded
