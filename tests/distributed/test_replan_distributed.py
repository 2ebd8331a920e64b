"""Distributed mode: replanning between the API's Orchestrator and the planner process, over Redis and
Postgres, with the LLM planner on the real openai SDK against the fake model server."""

from __future__ import annotations

from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.tests.test_llm_planner import task

OUTLINE = task("outline")
V1 = {"tasks": [OUTLINE, task("notes", depends_on=["outline"])]}
V2 = {"tasks": [OUTLINE, task("short_notes", depends_on=["outline"])]}


def test_a_failed_task_is_replanned_by_the_planner_process_and_the_job_succeeds(make_stack):
    replies = [Reply.json(V1), Reply("# Outline"), Reply.error(400), Reply.json(V2), Reply("Short notes")]
    with FakeModelServer(replies) as fake:
        stack = make_stack(
            planner_mode="llm",
            llm_provider="openai",
            openai_api_key="sk-distributed-replan",
            openai_base_url=fake.openai_url,
            llm_max_retries=0,
        )
        stack.start_all(workers=1, concurrency=2)
        job_id = stack.submit("Write an outline, then the notes")
        job = stack.wait_all([job_id])[job_id]
        plans = stack.http.get(f"{stack.api}/jobs/{job_id}/plans").json()
        tasks = stack.tasks(job_id)
        requests = len(fake.requests)
    assert job["status"] == "succeeded", job["error"]
    assert requests == 5  # the plan, the outline, the failed call, the replan, the new task
    assert [p["version"] for p in plans] == [1, 2]
    assert plans[1]["reason"].startswith("task 'notes' failed: ")
    assert plans[1]["diff"] == {"added": ["short_notes"], "removed": ["notes"], "changed": []}
    assert sorted((t["key"], t["plan_version"], t["status"]) for t in tasks) == [
        ("notes", 1, "superseded"),
        ("outline", 1, "succeeded"),
        ("short_notes", 2, "succeeded"),
    ]
    (replanned,) = stack.sql(
        "select data->>'version' from events where job_id = :job and type = 'plan.replanned'", job=job_id
    )
    assert replanned == ("2",)
