"""The jobs endpoints through the ASGI app, on a real embedded runtime."""

from __future__ import annotations

import asyncio
from uuid import UUID

import httpx
import pytest

from planwright.core.settings import GOAL_MAX_CHARS
from planwright.services.api.app import create_app
from planwright.services.api.tests.support import loopback_policy, wait_for_job


async def test_demo_job_runs_the_three_seed_tasks_in_order(client, demo_goal, finished):
    resp = await client.post("/jobs", json={"goal": demo_goal, "context_json": {}, "priority": 1})
    assert resp.status_code == 201
    created = resp.json()
    assert created["goal"] == demo_goal
    assert created["status"] in ("pending", "planning", "running")

    job = await finished(created["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["tasks"] == {"total": 3, "succeeded": 3, "failed": 0, "running": 0}
    assert [t["key"] for t in job["plan"]["tasks"]] == [
        "create_checklist",
        "write_artifact",
        "summarize_artifact",
    ]

    tasks = (await client.get(f"/jobs/{created['id']}/tasks")).json()
    assert [(t["title"], t["tool"], t["critic_required"]) for t in tasks] == [
        ("Create checklist", "text_generate", True),
        ("Write artifact", "file_write_artifact", True),
        ("Summarize artifact", "text_summarize", False),
    ]
    assert [t["depends_on"] for t in tasks] == [[], ["create_checklist"], ["write_artifact"]]
    assert all(t["status"] == "succeeded" and t["attempt"] == 1 for t in tasks)
    checklist = tasks[0]["output"]["text"]
    assert checklist.count("- [ ]") >= 6
    assert tasks[1]["output"]["name"] == "tools.md"
    assert tasks[2]["output"]["source"] == "artifact:tools.md"
    assert tasks[2]["output"]["text"]


async def test_job_is_stored_with_context_and_priority(client, finished):
    resp = await client.post(
        "/jobs", json={"goal": "Draft a release note", "context_json": {"team": "core"}, "priority": 7}
    )
    body = resp.json()
    assert (body["context_json"], body["priority"]) == ({"team": "core"}, 7)
    assert (await finished(body["id"]))["status"] == "succeeded"


async def test_defaults_for_context_and_priority(client):
    body = (await client.post("/jobs", json={"goal": "Write a haiku about queues"})).json()
    assert (body["context_json"], body["priority"]) == ({}, 1)


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({"goal": ""}, "goal", "must not be empty"),
        ({"goal": "   \n "}, "goal", "must not be empty"),
        ({"goal": "x" * (GOAL_MAX_CHARS + 1)}, "goal", f"the limit is {GOAL_MAX_CHARS}"),
        ({}, "body", "a goal is required, unless a plan is given"),
        ({"goal": None}, "body", "a goal is required, unless a plan is given"),
        ({"goal": 5}, "goal", "string"),
        ({"goal": "ok", "context_json": [1, 2]}, "context_json", "JSON object"),
        ({"goal": "ok", "context_json": "{}"}, "context_json", "JSON object"),
        ({"goal": "ok", "priority": -1}, "priority", "greater than or equal to 0"),
        ({"goal": "ok", "priority": 10}, "priority", "less than or equal to 9"),
        ({"goal": "ok", "priority": "high"}, "priority", "integer"),
        ({"goal": "ok", "colour": "red"}, "colour", "not permitted"),
    ],
)
async def test_create_job_rejects_bad_input_with_a_clear_422(client, payload, field, fragment):
    before = (await client.get("/jobs")).json()["items"]
    resp = await client.post("/jobs", json=payload)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert any(d["field"] == field and fragment in d["message"] for d in error["details"]), error
    assert field in error["message"]
    assert (await client.get("/jobs")).json()["items"] == before  # nothing was stored


async def test_malformed_json_body_is_a_422(client):
    resp = await client.post("/jobs", content=b'{"goal": ', headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "validation_error"


async def test_list_jobs_paginates_newest_first_and_filters_by_status(client, finished):
    ids = []
    for i in range(5):
        ids.append((await client.post("/jobs", json={"goal": f"Write note number {i}"})).json()["id"])
    for job_id in ids:
        await finished(job_id)

    page1 = (await client.get("/jobs", params={"limit": 2})).json()
    assert [j["id"] for j in page1["items"]] == ids[::-1][:2]
    assert page1["next_offset"] == 2
    page3 = (await client.get("/jobs", params={"limit": 2, "offset": 4})).json()
    assert [j["id"] for j in page3["items"]] == [ids[0]]
    assert page3["next_offset"] is None

    assert len((await client.get("/jobs", params={"status": "succeeded"})).json()["items"]) == 5
    assert (await client.get("/jobs", params={"status": "failed"})).json()["items"] == []


@pytest.mark.parametrize("params", [{"status": "done"}, {"limit": 0}, {"limit": 201}, {"offset": -1}])
async def test_list_jobs_rejects_bad_query(client, params):
    resp = await client.get("/jobs", params=params)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "validation_error"


async def test_get_job_includes_the_plan(client, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    job = (await client.get(f"/jobs/{job_id}")).json()
    assert job["plan"]["version"] == 1
    assert job["plan"]["planner"] == "rules"
    assert [t["tool"] for t in job["plan"]["tasks"]] == [
        "text_generate",
        "file_write_artifact",
        "text_summarize",
    ]


@pytest.mark.parametrize(
    "path", ["/jobs/{id}", "/jobs/{id}/tasks", "/jobs/{id}/artifacts", "/jobs/{id}/events"]
)
async def test_unknown_job_is_a_404(client, path):
    resp = await client.get(path.format(id="00000000-0000-0000-0000-000000000000"))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


async def test_malformed_job_id_is_a_422(client):
    resp = await client.get("/jobs/not-a-uuid/tasks")
    assert resp.status_code == 422
    assert "job_id" in resp.json()["error"]["message"]


async def test_failed_plan_fails_the_job_with_the_reason(client, finished):
    goal = "; ".join(f"write note {i}" for i in range(25))  # more steps than PLAN_MAX_TASKS (20)
    job_id = (await client.post("/jobs", json={"goal": goal})).json()["id"]
    job = await finished(job_id)
    assert job["status"] == "failed"
    assert job["error"].startswith("planning failed:")
    assert "limit is 20" in job["error"]
    assert (await client.get(f"/jobs/{job_id}/tasks")).json() == []


async def test_failed_task_is_retried_then_skips_dependents_and_fails_the_job(runtime_factory, tmp_path):
    # Port 1 on loopback refuses connections: a retryable error, retried TASK_MAX_RETRIES (2) times.
    # The policy lets http_fetch reach it (the network guard refuses loopback otherwise).
    runtime = await runtime_factory(policy_config_path=loopback_policy(tmp_path / "policy.yaml", 1))
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        goal = "Fetch http://127.0.0.1:1/ then summarize it."
        job = await wait_for_job(client, (await client.post("/jobs", json={"goal": goal})).json()["id"])
        tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
        events = (await client.get(f"/jobs/{job['id']}/events")).text
    assert job["status"] == "failed"
    assert [(t["tool"], t["status"]) for t in tasks] == [
        ("http_fetch", "failed"),
        ("text_summarize", "skipped"),
    ]
    assert tasks[0]["attempt"] == 3
    assert tasks[0]["error"].endswith("(after 3 attempts)")
    assert job["error"].startswith(f"task '{tasks[0]['key']}' failed:")
    assert events.count("event: task.retrying") == 2


async def test_a_job_is_answered_once_committed_not_once_its_message_is_out(runtime, client, finished):
    """201 as soon as the job is committed: a slow (or failing) publish after the commit holds up no
    request, and a publish that fails is logged, not turned into a second commit of the job."""
    outbox = runtime.orchestrator.intake._outbox
    sent = outbox.sent
    release = asyncio.Event()
    calls = []

    async def slow(pending):
        calls.append(pending)
        await release.wait()
        await sent(pending)

    outbox.sent = slow
    try:
        async with asyncio.timeout(10):
            resp = await client.post("/jobs", json={"goal": "Write a note"})
        assert resp.status_code == 201
        assert len(calls) == 1  # its message is still on its way
    finally:
        release.set()
        outbox.sent = sent
    assert (await finished(resp.json()["id"]))["status"] == "succeeded"

    async def failing(pending):
        raise RuntimeError("the bus is on fire")

    outbox.sent = failing
    try:
        resp = await client.post("/jobs", json={"goal": "Write a note"})
    finally:
        outbox.sent = sent
    assert resp.status_code == 201
    listed = (await client.get("/jobs", params={"limit": 10})).json()
    assert sum(1 for job in listed["items"] if job["id"] == resp.json()["id"]) == 1


async def test_new_jobs_and_tasks_get_time_ordered_ids(client, finished):
    """Version 7 ids (ADR 0039): a job's rows sit beside those of the jobs made with it in every index."""
    first = (await client.post("/jobs", json={"goal": "Write a note; then summarize it"})).json()
    second = (await client.post("/jobs", json={"goal": "Write a haiku"})).json()
    assert [(await finished(job["id"]))["status"] for job in (first, second)] == ["succeeded"] * 2
    ids = [UUID(first["id"]), UUID(second["id"])]
    assert [u.version for u in ids] == [7, 7]  # (their order is the clock's: test_ids.py checks it)
    tasks = (await client.get(f"/jobs/{first['id']}/tasks")).json()
    assert len(tasks) == 2
    assert all(UUID(t["id"]).version == 7 for t in tasks)
