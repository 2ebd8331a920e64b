"""JobState: task_by_id finds the live plan's task whatever happened to the plan since the last look-up;
a job loaded from its rows has its tasks as they were planned."""

from __future__ import annotations

import uuid

import httpx

from planwright.core.plan import TaskSpec
from planwright.core.states import JobStatus
from planwright.services.api.app import create_app
from planwright.services.api.orchestrator.state import JobState, TaskState, load_jobs
from planwright.services.api.tests.support import wait_for_job


def _task(key: str) -> TaskState:
    return TaskState.of(TaskSpec(key=key, title=key, tool="text_generate", args={}, depends_on=[]))


def _job(*tasks: TaskState) -> JobState:
    job = JobState(
        id=uuid.uuid4(), goal="g", priority=1, status=JobStatus.running, error=None, plan_version=1
    )
    job.tasks = {t.key: t for t in tasks}
    return job


def test_a_task_is_found_by_id_and_a_stranger_is_not() -> None:
    a, b = _task("a"), _task("b")
    job = _job(a, b)
    assert job.task_by_id(b.id) is b
    assert job.task_by_id(a.id) is a
    assert job.task_by_id(uuid.uuid4()) is None


def test_tasks_added_after_a_look_up_are_found() -> None:
    a = _task("a")
    job = _job(a)
    assert job.task_by_id(a.id) is a
    c = _task("c")
    job.tasks["c"] = c  # a plan's tasks added (as PlanCreated does)
    assert job.task_by_id(c.id) is c


def test_a_superseded_task_is_not_found_once_a_replan_replaced_it() -> None:
    old = _task("a")
    job = _job(old)
    assert job.task_by_id(old.id) is old
    new = _task("a")  # the same key in the new plan version, a new task
    job.tasks = {"a": new}  # as a replan sets the live plan
    assert job.task_by_id(old.id) is None
    assert job.task_by_id(new.id) is new


async def test_a_job_loaded_from_the_database_keeps_its_tasks_descriptions(runtime_factory):
    # A replan gives the planner the live plan (replan.live_plan) and keeps a succeeded task only if
    # the new version leaves it as it was, description included: after a restart, or where another
    # replica wrote the job, the tasks come from their rows.
    runtime = await runtime_factory()
    plan = {
        "tasks": [
            {
                "key": "note",
                "title": "Note",
                "description": "A note on queues",
                "tool": "text_generate",
                "args": {"prompt": "Queues"},
            }
        ]
    }
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        created = await client.post("/jobs", json={"goal": "A note", "plan": plan})
        assert created.status_code == 201, created.text
        job_id = uuid.UUID(created.json()["id"])
        assert (await wait_for_job(client, str(job_id), timeout_s=60))["status"] == "succeeded"
    async with runtime.engine.connect() as conn:
        loaded = await load_jobs(conn, [job_id])  # no cache: from the rows
    assert loaded[job_id].tasks["note"].description == "A note on queues"
