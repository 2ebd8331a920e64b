"""Distributed mode, end to end: real Postgres, real Redis, every service its own process.

Each scenario breaks something on purpose (a killed worker, a stopped or flushed Redis, a restarted
API, a redelivered message, a tool that always fails) and checks that nothing is lost or done twice.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from planwright.core import names
from planwright.core.messages import TaskCompleted, TaskDispatch, encode
from planwright.follow import sse_events
from planwright.services.api.tests.support import loopback_policy
from tests.distributed.conftest import pending_total
from tests.distributed.stack import Stack
from tests.local_http import serving
from tests.processes import READY_S

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(360)]

DEMO = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an "
    "artifact, then summarize it."
)


class _Slow(BaseHTTPRequestHandler):
    delay_s = 1.5
    hits: dict[str, int] = {}

    def do_GET(self) -> None:
        _Slow.hits[self.path] = _Slow.hits.get(self.path, 0) + 1
        time.sleep(self.delay_s)
        body = f"<html><body><p>Page {self.path} explains queues.</p><p>Workers take tasks.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_site() -> Iterator[str]:
    _Slow.hits = {}
    with serving(_Slow) as url:
        yield url


def may_fetch(tmp_path: Path, *urls: str) -> Path:
    """A policy file that lets http_fetch reach these loopback URLs (the network guard's opt-in)."""
    return loopback_policy(tmp_path / "fetch-policy.yaml", *(urlsplit(url).port or 80 for url in urls))


def slow_goal(site: str, n: int) -> str:
    return f"Fetch {site}/page{n} then write it to page{n}.md then summarize it."


def assert_ran_once(stack: Stack, job_ids: list[str]) -> None:
    """Every task succeeded, and the artifacts table has exactly one row per writing task."""
    for job_id in job_ids:
        assert {t["status"] for t in stack.tasks(job_id)} == {"succeeded"}
    rows = stack.sql("SELECT task_id, count(*) FROM artifacts GROUP BY task_id")
    assert rows, "no artifacts were recorded"
    assert all(count == 1 for _, count in rows)


def test_demo_and_200_concurrent_jobs_on_two_workers(make_stack):
    stack = make_stack()
    stack.start_all(workers=2, concurrency=16)
    demo = stack.submit(DEMO, priority=1)
    (job,) = stack.wait_all([demo]).values()
    assert job["status"] == "succeeded", job["error"]
    tasks = stack.tasks(demo)
    assert [(t["key"], t["tool"]) for t in tasks] == [
        ("create_checklist", "text_generate"),
        ("write_artifact", "file_write_artifact"),
        ("summarize_artifact", "text_summarize"),
    ]
    (art,) = httpx.get(f"{stack.api}/jobs/{demo}/artifacts").json()
    assert httpx.get(f"{stack.api}{art['content_url']}").text == tasks[0]["output"]["text"]

    ids = [
        stack.submit(f"Write note {i}; then write it to note{i}.md; then summarize it.") for i in range(200)
    ]
    jobs = stack.wait_all(ids, timeout_s=240)
    assert {j["status"] for j in jobs.values()} == {"succeeded"}
    assert_ran_once(stack, ids)
    # Each task started exactly once, on one of the two workers.
    starts = stack.sql("SELECT task_id, count(*) FROM events WHERE type = 'task.running' GROUP BY task_id")
    assert len(starts) == 3 * 201
    assert all(count == 1 for _, count in starts)
    workers = {
        row[0] for row in stack.sql("SELECT DISTINCT data->>'worker' FROM events WHERE type='task.running'")
    }
    assert len(workers) == 2
    time.sleep(0.5)
    assert pending_total(stack) == 0


def test_kill_9_a_worker_mid_task(make_stack, slow_site, tmp_path):
    stack = make_stack(visibility_timeout_s=3, policy_config_path=may_fetch(tmp_path, slow_site))
    stack.start_all(workers=2, concurrency=4)
    ids = [stack.submit(slow_goal(slow_site, i)) for i in range(8)]
    victim = stack.procs["worker1"].pid
    # Until the victim itself runs a task (on a loaded machine the other worker can take the first
    # ones while it is still starting; 8 slow tasks are more than one worker's concurrency of 4).
    deadline = time.monotonic() + READY_S
    running = "SELECT 1 FROM events WHERE type='task.running' AND data->>'worker' LIKE :w"
    while not stack.sql(running, w=f"%-{victim}"):
        assert time.monotonic() < deadline, f"waited {READY_S:g}s for worker1 (pid {victim}) to run a task"
        time.sleep(0.05)
    time.sleep(0.3)
    stack.signal("worker1", signal.SIGKILL)
    jobs = stack.wait_all(ids)
    assert {j["status"] for j in jobs.values()} == {"succeeded"}, [j["error"] for j in jobs.values()]
    assert_ran_once(stack, ids)
    time.sleep(0.5)
    assert pending_total(stack) == 0


def test_redelivered_and_late_messages_change_nothing(make_stack):
    stack = make_stack()
    stack.start_all(workers=1)
    job_id = stack.submit(DEMO)
    stack.wait_all([job_id])
    before_events = stack.sql("SELECT count(*) FROM events")[0][0]
    before_tasks = stack.tasks(job_id)
    first = before_tasks[0]
    ident = {"job_id": job_id, "task_id": first["id"], "attempt": 1}
    # The dispatch again (a redelivery after success) and a late result from an old attempt.
    dispatch = TaskDispatch(**ident, key=first["key"], tool=first["tool"], args=first["args"], goal=DEMO)
    late = TaskCompleted(**ident, output={"text": "a different, late result"})
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        client.xadd(stack.prefix + names.dispatch_lane(1), {b"m": encode(dispatch)})
        client.xadd(stack.prefix + names.ORCHESTRATOR, {b"m": encode(late)})
    time.sleep(2)
    assert stack.tasks(job_id) == before_tasks
    assert stack.sql("SELECT count(*) FROM events")[0][0] == before_events
    assert pending_total(stack) == 0


def test_a_job_accepted_while_redis_is_down_runs_when_it_is_back(own_redis, make_stack):
    stack = make_stack(redis_url=own_redis.url)
    stack.start_all(workers=1)
    own_redis.stop()
    job_id = stack.submit(DEMO)  # 201: the job and its message are in Postgres
    assert httpx.get(f"{stack.api}/jobs/{job_id}").json()["status"] == "pending"
    time.sleep(1)
    own_redis.start()
    (job,) = stack.wait_all([job_id]).values()
    assert job["status"] == "succeeded", job["error"]
    assert [t["status"] for t in stack.tasks(job_id)] == ["succeeded"] * 3


def test_flushall_mid_run_is_recovered_by_the_reconciler(own_redis, make_stack, slow_site, tmp_path):
    stack = make_stack(redis_url=own_redis.url, policy_config_path=may_fetch(tmp_path, slow_site))
    stack.start_all(workers=2, concurrency=4)
    ids = [stack.submit(slow_goal(slow_site, i)) for i in range(6)]
    time.sleep(1.0)
    assert own_redis.cli("FLUSHALL").strip() == "OK"
    jobs = stack.wait_all(ids)
    assert {j["status"] for j in jobs.values()} == {"succeeded"}, [j["error"] for j in jobs.values()]
    assert_ran_once(stack, ids)


def test_sse_across_an_api_restart_sees_every_event_once(make_stack, slow_site, tmp_path):
    stack = make_stack(policy_config_path=may_fetch(tmp_path, slow_site))
    stack.start_all(workers=1)
    job_id = stack.submit(slow_goal(slow_site, 1))
    seen: list[tuple[int, str]] = []
    with httpx.stream("GET", f"{stack.api}/jobs/{job_id}/events", timeout=30) as resp:
        for event_id, event, _ in sse_events(resp.iter_lines()):
            seen.append((event_id or 0, event))
            if event == "task.running":
                break
    stack.signal("api", signal.SIGKILL)
    stack.start_api()
    with httpx.stream(
        "GET", f"{stack.api}/jobs/{job_id}/events", headers={"Last-Event-ID": str(seen[-1][0])}, timeout=60
    ) as resp:
        for event_id, event, _ in sse_events(resp.iter_lines()):
            seen.append((event_id or 0, event))
    ids = [i for i, _ in seen]
    assert seen[-1][1] == "job.succeeded", (
        seen,
        stack.sql("SELECT id, type FROM events ORDER BY id"),
        stack.log("api"),
    )
    assert ids == sorted(set(ids)), "in order, no duplicate"
    stored = [row[0] for row in stack.sql("SELECT id FROM events WHERE job_id = :j ORDER BY id", j=job_id)]
    assert ids == stored, "no gap"


def test_a_failing_tool_is_retried_then_fails_the_job_and_poison_is_dead_lettered(make_stack, tmp_path):
    stack = make_stack(task_max_retries=2, policy_config_path=may_fetch(tmp_path, "http://127.0.0.1:1/"))
    stack.start_all(workers=1)
    job_id = stack.submit("Fetch http://127.0.0.1:1/ then summarize it.")
    (job,) = stack.wait_all([job_id]).values()
    assert job["status"] == "failed"
    fetch, summary = stack.tasks(job_id)
    assert (fetch["status"], fetch["attempt"], summary["status"]) == ("failed", 3, "skipped")
    assert "after 3 attempts" in fetch["error"]
    retries = stack.sql(
        "SELECT data FROM events WHERE job_id = :j AND type = 'task.queued' ORDER BY id", j=job_id
    )
    delays = [
        json.loads(r[0])["delay_s"] if isinstance(r[0], str) else r[0].get("delay_s") for r in retries[1:]
    ]
    assert delays == [0.05, 0.1], "exponential backoff"

    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        client.xadd(stack.prefix + names.JOBS, {b"m": b'{"type": "job.created", "nonsense": true}'})
        deadline = time.monotonic() + READY_S
        while not client.exists(stack.prefix + names.DEAD_LETTER):
            assert time.monotonic() < deadline, "the poison message was not dead-lettered"
            time.sleep(0.1)
        (entry,) = client.xrange(stack.prefix + names.DEAD_LETTER)
    assert entry[1][b"group"] == names.G_PLANNER.encode()
    assert b"undecodable" in entry[1][b"reason"]
    time.sleep(0.5)
    assert pending_total(stack) == 0


def test_two_api_replicas_serve_the_same_jobs_and_sse_resumes_on_either(make_stack, slow_site, tmp_path):
    stack = make_stack(policy_config_path=may_fetch(tmp_path, slow_site))
    stack.start_all(workers=2)
    other = stack.start_api("api2")
    job_id = stack.submit(slow_goal(slow_site, 7))
    assert httpx.get(f"{other}/jobs/{job_id}").json()["id"] == job_id
    seen: list[int] = []
    with httpx.stream("GET", f"{stack.api}/jobs/{job_id}/events", timeout=30) as resp:
        for event_id, event, _ in sse_events(resp.iter_lines()):
            seen.append(event_id or 0)
            if event == "task.running":
                break
    with httpx.stream(
        "GET", f"{other}/jobs/{job_id}/events", headers={"Last-Event-ID": str(seen[-1])}, timeout=60
    ) as resp:
        seen += [event_id or 0 for event_id, _, _ in sse_events(resp.iter_lines())]
    stored = [row[0] for row in stack.sql("SELECT id FROM events WHERE job_id = :j ORDER BY id", j=job_id)]
    assert seen == stored
    # More jobs, through both replicas at once: the orchestrators share the work without conflicts.
    ids = [stack.submit(f"Write note {i}; then summarize it.") for i in range(20)]
    ids += [httpx.post(f"{other}/jobs", json={"goal": f"Write memo {i}"}).json()["id"] for i in range(20)]
    assert {j["status"] for j in stack.wait_all(ids).values()} == {"succeeded"}
    # Submitted and followed in one request, on either replica: the events reach the stream whichever
    # replica's Orchestrator commits them, each once and in order, through to the job's end.
    for api in (stack.api, other) * 4:
        body = {"goal": "Write a brief; then summarize it."}
        with httpx.stream(
            "POST", f"{api}/jobs", json=body, headers={"Accept": "text/event-stream"}, timeout=60
        ) as resp:
            assert resp.status_code == 201
            job_id = resp.headers["location"].removeprefix("/jobs/")
            streamed = [(event_id, event) for event_id, event, _ in sse_events(resp.iter_lines())]
        stored = stack.sql("SELECT id, type FROM events WHERE job_id = :j ORDER BY id", j=job_id)
        assert streamed == [tuple(row) for row in stored]
        assert streamed[-1][1] == "job.succeeded"


def test_sigterm_releases_unfinished_tasks_to_another_worker(make_stack, slow_site, tmp_path):
    # A visibility timeout far beyond the test: only an explicit release lets worker2 take the tasks.
    policy = may_fetch(tmp_path, slow_site)
    stack = make_stack(visibility_timeout_s=300, shutdown_grace_s=0.2, policy_config_path=policy)
    stack.start_all(workers=1, concurrency=4)
    ids = [stack.submit(slow_goal(slow_site, i)) for i in range(4)]
    deadline = time.monotonic() + READY_S
    while stack.sql("SELECT count(*) FROM events WHERE type = 'task.running'")[0][0] < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stack.signal("worker1", signal.SIGTERM)
    assert "released 4 unfinished task(s)" in stack.log("worker1")
    stack.start("worker2", "--concurrency", "4")
    jobs = stack.wait_all(ids)
    assert {j["status"] for j in jobs.values()} == {"succeeded"}
    assert_ran_once(stack, ids)


def test_a_live_long_task_is_never_stolen(make_stack, slow_site, tmp_path):
    # Each fetch takes 9 s, three times the visibility timeout: only the heartbeat keeps it.
    _Slow.delay_s = 9.0
    try:
        stack = make_stack(visibility_timeout_s=3, policy_config_path=may_fetch(tmp_path, slow_site))
        stack.start_all(workers=2, concurrency=2)
        ids = [stack.submit(slow_goal(slow_site, i)) for i in range(2)]
        jobs = stack.wait_all(ids)
    finally:
        _Slow.delay_s = 1.5
    assert {j["status"] for j in jobs.values()} == {"succeeded"}
    starts = stack.sql("SELECT task_id, count(*) FROM events WHERE type = 'task.running' GROUP BY task_id")
    assert len(starts) == 6
    assert all(count == 1 for _, count in starts), "a task was started twice"
    assert all(hits == 1 for hits in _Slow.hits.values()), _Slow.hits


def test_approvals_answered_after_an_api_restart_and_one_left_to_time_out(make_stack, tmp_path):
    policy = tmp_path / "approval.yaml"
    policy.write_text(
        "environments:\n  prod:\n    allowed_tools: [text_generate, file_write_artifact, text_summarize]\n"
        "    require_approval: [file_write_artifact]\n    approval_timeout_s: 30\n"
    )
    # The critic runs too, as its own process, and sends every first checklist back once.
    stack = make_stack(
        policy_gate_enabled="true",
        policy_mode="prod",
        policy_config_path=policy,
        critic_enabled="true",
        critic_demo_fault_rate=1,
    )
    stack.start_all(workers=1)
    approve, reject, ignore = (stack.submit(DEMO) for _ in range(3))
    deadline = time.monotonic() + READY_S
    waiting: dict[str, dict[str, Any]] = {}
    while len(waiting) < 3:
        assert time.monotonic() < deadline, waiting
        for job_id in (approve, reject, ignore):
            # A job still being planned has no tasks yet: keep waiting for it.
            tasks = {task["key"]: task for task in stack.tasks(job_id)}
            if tasks.get("write_artifact", {}).get("status") == "awaiting_approval":
                waiting[job_id] = tasks["write_artifact"]
        time.sleep(0.1)
    stack.signal("api", signal.SIGKILL)
    stack.start_api()
    ok = httpx.post(f"{stack.api}/tasks/{waiting[approve]['id']}/approve", json={"comment": "ok"})
    no = httpx.post(f"{stack.api}/tasks/{waiting[reject]['id']}/reject", json={"comment": "no"})
    assert (ok.status_code, no.status_code) == (200, 200)
    jobs = stack.wait_all([approve, reject, ignore])
    assert jobs[approve]["status"] == "succeeded", jobs[approve]["error"]
    assert jobs[reject]["error"] == "task 'write_artifact' failed: rejected by a reviewer: no"
    assert jobs[ignore]["error"] == "task 'write_artifact' failed: approval timed out after 30s"
    tasks = {task["key"]: task for task in stack.tasks(approve)}
    decisions = [d["decision"] for d in tasks["write_artifact"]["policy_decisions"]]
    assert decisions == ["needs_approval", "approved"]
    checklist = tasks["create_checklist"]
    assert [(v["attempt"], v["verdict"]) for v in checklist["verdicts"]] == [(1, "rework"), (2, "approve")]


def test_every_service_process_serves_its_own_metrics(make_stack):
    """Real processes: each one's /metrics counts what that process did, with bounded labels."""
    from prometheus_client.parser import text_string_to_metric_families

    def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    stack = make_stack(
        POLICY_GATE_ENABLED="true",
        POLICY_MODE="prod",
        CRITIC_ENABLED="true",
        CRITIC_DEMO_FAULT_RATE="1.0",  # the demo's checklist is sent back once
        METRICS_REFRESH_S="0.2",
    )
    stack.start_all(workers=1)
    # One job succeeds at once, one after a rework, one is blocked by the policy, one fails to plan.
    ok = stack.submit("Write a short note about queues")
    reworked = stack.submit(DEMO)
    blocked = stack.submit("Fetch https://example.com/ then summarize it.")
    failed = stack.submit("; ".join(f"write note {i}" for i in range(25)))  # over PLAN_MAX_TASKS
    jobs = stack.wait_all([ok, reworked, blocked, failed])
    assert [jobs[j]["status"] for j in (ok, reworked, blocked, failed)] == [
        "succeeded",
        "succeeded",
        "failed",
        "failed",
    ]
    time.sleep(0.5)  # a refresh of the stream gauges
    api, planner, worker, gate = (values(stack.metrics(n)) for n in ("api", "planner", "worker1", "policy"))
    assert api[("planwright_jobs_finished_total", (("status", "succeeded"),))] == 2
    assert api[("planwright_jobs_finished_total", (("status", "failed"),))] == 2
    assert api[("planwright_critic_verdicts_total", (("verdict", "rework"),))] == 1
    assert api[("planwright_critic_verdicts_total", (("verdict", "approve"),))] == 3
    assert api[("planwright_policy_decisions_total", (("decision", "block"), ("tool", "http_fetch")))] == 1
    assert api[("planwright_policy_decisions_total", (("decision", "allow"), ("tool", "text_generate")))] == 2
    assert api[("planwright_tasks_finished_total", (("status", "succeeded"), ("tool", "text_generate")))] == 2
    assert (
        api[("planwright_http_requests_total", (("method", "POST"), ("route", "/jobs"), ("status", "201")))]
        == 4
    )
    # The API process watches the queues: every work stream and group, with its lag and pending count.
    lag = {labels for name, labels in api if name == "planwright_stream_lag_messages"}
    assert (("group", "worker"), ("stream", "pw:dispatch:normal")) in lag
    assert api[("planwright_outbox_backlog_messages", ())] == 0
    # The worker ran the note's task and the demo's three (one twice): its queue waits were measured
    # there, and the mock model's calls too.
    assert worker[("planwright_task_queue_wait_seconds_count", (("lane", "normal"),))] == 5
    assert (
        worker[
            ("planwright_llm_calls_total", (("model", "mock"), ("provider", "mock"), ("purpose", "generate")))
        ]
        == 3
    )
    assert ("planwright_jobs_finished_total", (("status", "succeeded"),)) not in worker
    assert ("planwright_task_queue_wait_seconds_count", (("lane", "normal"),)) not in planner
    assert (
        "planwright_http_requests_total",
        (("method", "POST"), ("route", "/jobs"), ("status", "201")),
    ) not in gate
